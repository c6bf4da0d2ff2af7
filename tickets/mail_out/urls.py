"""URLs of mail out: email templates.

`urlpatterns`: agent pages (included by tickets/urls.py); `api_urlpatterns`: the API
(included by tickets/api_urls.py)."""

from django.urls import URLPattern, path

from tickets.mail_out import api, views

urlpatterns: list[URLPattern] = [
    path("settings/email-templates/", views.email_templates, name="email-templates"),
    path(
        "settings/email-templates/<slug:kind>/",
        views.email_template_edit,
        name="email-template-edit",
    ),
]

api_urlpatterns: list[URLPattern] = [
    path("email-templates/", api.EmailTemplateListAPI.as_view(), name="email-template-list"),
    path(
        "email-templates/preview/",
        api.EmailTemplatePreviewAPI.as_view(),
        name="email-template-preview",
    ),
    path(
        "email-templates/<slug:kind>/",
        api.EmailTemplateDetailAPI.as_view(),
        name="email-template-detail",
    ),
]
