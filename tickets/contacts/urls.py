"""Agent pages: contacts (included by tickets/urls.py)."""

from django.urls import URLPattern, path

from tickets.views import contacts as views

urlpatterns: list[URLPattern] = [
    path("contacts/", views.contact_list, name="contact-list"),
    path("contacts/<uuid:contact_id>/", views.contact_detail, name="contact-detail"),
    path("contacts/<uuid:contact_id>/edit/", views.contact_edit, name="contact-edit"),
    path("contacts/<uuid:contact_id>/merge/", views.contact_merge, name="contact-merge"),
    path("companies/", views.company_list, name="company-list"),
    path("companies/new/", views.company_create, name="company-create"),
    path("companies/<uuid:company_id>/", views.company_detail, name="company-detail"),
    path("companies/<uuid:company_id>/edit/", views.company_edit, name="company-edit"),
]
