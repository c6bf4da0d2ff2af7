"""Contacts and companies: agent pages (`urlpatterns`, included by tickets/urls.py) and API
(`api_urlpatterns`, included by tickets/api_urls.py)."""

from django.urls import URLPattern, path

from tickets.contacts import api, views

urlpatterns: list[URLPattern] = [
    path("contacts/", views.contact_list, name="contact-list"),
    path("contacts/<uuid:contact_id>/", views.contact_detail, name="contact-detail"),
    path("contacts/<uuid:contact_id>/edit/", views.contact_edit, name="contact-edit"),
    path("contacts/<uuid:contact_id>/merge/", views.contact_merge, name="contact-merge"),
    path("contacts/<uuid:contact_id>/export/", views.contact_export, name="contact-export"),
    path("contacts/<uuid:contact_id>/erase/", views.contact_erase, name="contact-erase"),
    path("companies/", views.company_list, name="company-list"),
    path("companies/new/", views.company_create, name="company-create"),
    path("companies/<uuid:company_id>/", views.company_detail, name="company-detail"),
    path("companies/<uuid:company_id>/edit/", views.company_edit, name="company-edit"),
]

api_urlpatterns: list[URLPattern] = [
    path("contacts/", api.ContactListAPI.as_view(), name="contact-list"),
    path("contacts/<uuid:contact_id>/", api.ContactDetailAPI.as_view(), name="contact-detail"),
    path(
        "contacts/<uuid:contact_id>/tickets/",
        api.ContactTicketListAPI.as_view(),
        name="contact-tickets",
    ),
    path("contacts/<uuid:contact_id>/merge/", api.ContactMergeAPI.as_view(), name="contact-merge"),
    path(
        "contacts/<uuid:contact_id>/export/", api.ContactExportAPI.as_view(), name="contact-export"
    ),
    path("contacts/<uuid:contact_id>/erase/", api.ContactEraseAPI.as_view(), name="contact-erase"),
    path("companies/", api.CompanyListAPI.as_view(), name="company-list"),
    path("companies/<uuid:company_id>/", api.CompanyDetailAPI.as_view(), name="company-detail"),
]
