"""Who is visiting the help center, without an account: a random id in a signed cookie,
hashed with the tenant before it is stored anywhere (votes, deflections, view counts). A
visitor without the cookie (a first request, a bot) or with one we did not sign is known
by their address instead: inventing cookies counts as one visitor. (A client that drops
the cookie it was given and fetches a new one is a new visitor each time; the per-address
limit on votes, limit_public_form, bounds that.)"""

from __future__ import annotations

import hashlib
import secrets

from django.http import HttpRequest
from django.http.response import HttpResponseBase

from helpdesk.core.ratelimit import client_ip
from helpdesk.tenancy.context import require_tenant_id

COOKIE = "hc_visitor"
COOKIE_MAX_AGE = 365 * 24 * 3600
SALT = "knowledge_base.visitor"
_ATTRIBUTE = "_help_center_visitor_cookie"


def _valid(token: str) -> bool:
    return 16 <= len(token) <= 64 and token.replace("-", "").replace("_", "").isalnum()


def _token(request: HttpRequest) -> str:
    """The id of a cookie we signed; '' for none, a forged one or one from before."""
    token = request.get_signed_cookie(COOKIE, default="", salt=SALT, max_age=COOKIE_MAX_AGE)
    return token if token and _valid(token) else ""


def visitor_key(request: HttpRequest) -> str:
    """The visitor's stable key in this tenant (64 hex characters)."""
    token = _token(request)
    source = f"c:{token}" if token else f"ip:{client_ip(request)}"
    return hashlib.sha256(f"{require_tenant_id()}:{source}".encode()).hexdigest()


def remember_visitor(request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
    """Give a visitor without a (valid) cookie one, so their next requests know them."""
    if not _token(request):
        response.set_signed_cookie(
            COOKIE,
            secrets.token_urlsafe(24),
            salt=SALT,
            max_age=COOKIE_MAX_AGE,
            httponly=True,
            samesite="Lax",
            secure=request.is_secure(),
        )
    return response
