"""The webhooks admin pages (included by helpdesk/urls.py)."""

from django.urls import URLPattern, path

from automation.webhooks import views

app_name = "automation-webhooks"

urlpatterns: list[URLPattern] = [
    path("settings/webhooks/", views.webhooks, name="webhooks"),
    path("settings/webhooks/<uuid:webhook_id>/", views.webhook_detail, name="webhook-detail"),
    path("settings/webhooks/<uuid:webhook_id>/test/", views.webhook_test, name="webhook-test"),
    path(
        "settings/webhooks/<uuid:webhook_id>/rotate-secret/",
        views.webhook_rotate_secret,
        name="webhook-rotate-secret",
    ),
    path(
        "settings/webhooks/<uuid:webhook_id>/delete/", views.webhook_delete, name="webhook-delete"
    ),
]
