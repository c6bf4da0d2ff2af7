"""API: contacts (included by tickets/api_urls.py)."""

from django.urls import URLPattern, path

from tickets.api import contacts as api

urlpatterns: list[URLPattern] = [
    path("contacts/", api.ContactListAPI.as_view(), name="contact-list"),
    path("contacts/<uuid:contact_id>/", api.ContactDetailAPI.as_view(), name="contact-detail"),
    path(
        "contacts/<uuid:contact_id>/tickets/",
        api.ContactTicketListAPI.as_view(),
        name="contact-tickets",
    ),
    path("contacts/<uuid:contact_id>/merge/", api.ContactMergeAPI.as_view(), name="contact-merge"),
    path("companies/", api.CompanyListAPI.as_view(), name="company-list"),
    path("companies/<uuid:company_id>/", api.CompanyDetailAPI.as_view(), name="company-detail"),
]
