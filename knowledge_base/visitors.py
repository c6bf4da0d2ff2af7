"""Who is visiting the help center, without an account: a random id in a cookie, hashed
with the tenant before it is stored anywhere (votes, deflections, view counts). A visitor
without the cookie (a first request, a bot) is known by their address instead, so
dropping the cookie does not buy more votes or views than changing networks would."""

from __future__ import annotations

import hashlib
import secrets

from django.http import HttpRequest
from django.http.response import HttpResponseBase

from helpdesk.core.ratelimit import client_ip
from helpdesk.tenancy.context import require_tenant_id

COOKIE = "hc_visitor"
COOKIE_MAX_AGE = 365 * 24 * 3600
_ATTRIBUTE = "_help_center_visitor_cookie"


def _valid(token: str) -> bool:
    return 16 <= len(token) <= 64 and token.replace("-", "").replace("_", "").isalnum()


def visitor_key(request: HttpRequest) -> str:
    """The visitor's stable key in this tenant (64 hex characters)."""
    token = request.COOKIES.get(COOKIE, "")
    source = f"c:{token}" if _valid(token) else f"ip:{client_ip(request)}"
    return hashlib.sha256(f"{require_tenant_id()}:{source}".encode()).hexdigest()


def remember_visitor(request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
    """Give a visitor without a (valid) cookie one, so their next requests know them."""
    if not _valid(request.COOKIES.get(COOKIE, "")):
        response.set_cookie(
            COOKIE,
            secrets.token_urlsafe(24),
            max_age=COOKIE_MAX_AGE,
            httponly=True,
            samesite="Lax",
            secure=request.is_secure(),
        )
    return response
