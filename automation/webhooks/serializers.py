"""API shapes of webhooks (/api/v1/webhooks/…). The URL and the events are checked by the
service (a loopback target, an unknown event: 400 with the reason)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from automation.models import SUBSCRIBABLE_WEBHOOK_EVENTS, Webhook, WebhookDelivery

EVENTS_HELP = "Any of " + ", ".join(f"`{event}`" for event in SUBSCRIBABLE_WEBHOOK_EVENTS) + "."


class WebhookCreateInput(serializers.Serializer[Any]):
    url = serializers.CharField(max_length=2000, help_text="An http(s) URL on a public host.")
    events = serializers.ListField(
        child=serializers.CharField(max_length=40), allow_empty=False, help_text=EVENTS_HELP
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)


class WebhookUpdateInput(serializers.Serializer[Any]):
    url = serializers.CharField(max_length=2000, required=False)
    events = serializers.ListField(
        child=serializers.CharField(max_length=40),
        allow_empty=False,
        required=False,
        help_text=EVENTS_HELP,
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    is_active = serializers.BooleanField(
        required=False, help_text="true turns a disabled webhook on again (failures from 0)."
    )


class WebhookOutput(serializers.ModelSerializer[Webhook]):
    class Meta:
        model = Webhook
        fields = [
            "id",
            "url",
            "description",
            "events",
            "is_active",
            "consecutive_failures",
            "disabled_reason",
            "disabled_at",
            "last_success_at",
            "last_failure_at",
            "created_at",
            "updated_at",
        ]


class WebhookCreatedOutput(WebhookOutput):
    secret = serializers.SerializerMethodField(
        help_text="The signing secret, shown this once: X-Helpdesk-Signature is"
        " `sha256=` and the hex HMAC-SHA256 of the body with it."
    )

    class Meta(WebhookOutput.Meta):
        fields = [*WebhookOutput.Meta.fields, "secret"]

    def get_secret(self, webhook: Webhook) -> str:
        return str(self.context.get("secret", ""))


class WebhookSecretOutput(serializers.Serializer[Any]):
    secret = serializers.CharField()


class WebhookDeliveryOutput(serializers.ModelSerializer[WebhookDelivery]):
    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event",
            "status",
            "attempts",
            "next_attempt_at",
            "delivered_at",
            "response_status",
            "response_ms",
            "response_excerpt",
            "error",
            "payload",
            "created_at",
        ]
