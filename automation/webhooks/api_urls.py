"""The webhooks API under /api/v1/ (included by helpdesk/urls.py)."""

from django.urls import URLPattern, path

from automation.webhooks import api

app_name = "webhooks-api"

urlpatterns: list[URLPattern] = [
    path("webhooks/", api.WebhookListAPI.as_view(), name="webhook-list"),
    path("webhooks/<uuid:webhook_id>/", api.WebhookDetailAPI.as_view(), name="webhook-detail"),
    path("webhooks/<uuid:webhook_id>/test/", api.WebhookTestAPI.as_view(), name="webhook-test"),
    path(
        "webhooks/<uuid:webhook_id>/rotate-secret/",
        api.WebhookRotateSecretAPI.as_view(),
        name="webhook-rotate-secret",
    ),
    path(
        "webhooks/<uuid:webhook_id>/deliveries/",
        api.WebhookDeliveryListAPI.as_view(),
        name="webhook-deliveries",
    ),
]
