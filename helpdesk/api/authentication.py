"""DRF reads the principal PrincipalMiddleware found; it never authenticates by itself."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request


class TenantPrincipalAuthentication(BaseAuthentication):
    """The member behind the session or `Authorization: Token <key>` on this tenant's host."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        django_request = request._request
        membership = getattr(django_request, "membership", None)
        if membership is None:
            return None
        if getattr(django_request, "api_token", None) is None:
            # Session logins need CSRF like any form post.
            from rest_framework.authentication import SessionAuthentication

            SessionAuthentication().enforce_csrf(request)
        return membership.user, membership

    def authenticate_header(self, request: Request) -> str:
        return "Token"


class TenantPrincipalScheme(OpenApiAuthenticationExtension):
    target_class = "helpdesk.api.authentication.TenantPrincipalAuthentication"
    name = ["tokenAuth", "cookieAuth"]

    def get_security_definition(self, auto_schema: Any) -> list[dict[str, str]]:
        return [
            {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": "`Token <key>`; create one with `manage.py create_api_token`.",
            },
            {"type": "apiKey", "in": "cookie", "name": "sessionid"},
        ]
