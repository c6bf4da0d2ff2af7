"""Deployment checks (`manage.py check --deploy`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register(Tags.security, deploy=True)
def check_webhook_secret(app_configs: Any, **kwargs: Any) -> list[Error]:
    """ESP webhooks (inbound mail, delivery status) are refused until they are authenticated
    (helpdesk.core.middleware.WebhookSecretMiddleware)."""
    from helpdesk.core.middleware import webhook_secret_is_set

    if webhook_secret_is_set():
        return []
    if settings.ANYMAIL.get("WEBHOOK_SECRET"):
        return [
            Error(
                "ANYMAIL_WEBHOOK_SECRET is still the change-me placeholder of .env.example: "
                "those credentials are public, so ESP webhooks answer 403 until it is replaced.",
                hint="Set ANYMAIL_WEBHOOK_SECRET=user:password with a random password and use "
                "it in the ESP's webhook URL.",
                id="helpdesk.E003",
            )
        ]
    return [
        Error(
            "ANYMAIL_WEBHOOK_SECRET is not set: ESP webhooks (/anymail/<esp>/inbound/ and "
            "/tracking/) answer 403, so no mail or delivery status arrives through an ESP.",
            hint="Set ANYMAIL_WEBHOOK_SECRET=user:password and use it in the ESP's webhook URL.",
            id="helpdesk.E001",
        )
    ]


@register(Tags.security, deploy=True)
def check_secret_key(app_configs: Any, **kwargs: Any) -> list[Error]:
    from helpdesk.core.env import env_str

    if env_str("HELPDESK_SECRET_KEY"):
        return []
    return [
        Error("HELPDESK_SECRET_KEY is not set; a development key is in use.", id="helpdesk.E002")
    ]


@register(Tags.security, deploy=True)
def check_trusted_proxies(app_configs: Any, **kwargs: Any) -> list[Warning]:
    """Behind a proxy, rate limits need its address to find each client's."""
    if not settings.HELPDESK_BEHIND_PROXY or settings.HELPDESK_TRUSTED_PROXIES:
        return []
    return [
        Warning(
            "HELPDESK_BEHIND_PROXY is on but HELPDESK_TRUSTED_PROXIES is empty: X-Forwarded-For "
            "is ignored, so every client behind the proxy shares its address in the login, "
            "password reset, API token and public form limits.",
            hint="Set HELPDESK_TRUSTED_PROXIES to the proxy's address as the web process sees "
            "it (comma-separated addresses or networks).",
            id="helpdesk.W001",
        )
    ]
