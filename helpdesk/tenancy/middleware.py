"""TenantMiddleware: host -> tenant, principal (member or API token), tenant context.

The rest of the request runs inside `tenant_context(tenant.id)`: one transaction, rolled
back when the response is an error (4xx or 5xx). Requests to the bare base domain go to the
platform area; any other unknown host gets a 404 page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import auth
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.crypto import constant_time_compare

from helpdesk.accounts import selectors as account_selectors
from helpdesk.core import ratelimit
from helpdesk.tenancy import selectors, sessions
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.http import HelpdeskHttpRequest


def _not_found(request: HttpRequest, message: str) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"error": {"code": "not_found", "message": message}}, status=404)
    return render(request, "errors/unknown_host.html", {"message": message}, status=404)


# Paths served by the platform URLs on every host, outside any tenant context.
PLATFORM_PATHS = ("/anymail/",)


def _session_is_current(request: HttpRequest, user: Any) -> bool:
    """What django.contrib.auth.get_user checks, for a user loaded with the membership: the
    session's backend is configured and its hash matches the user's current password."""
    if request.session.get(auth.BACKEND_SESSION_KEY) not in settings.AUTHENTICATION_BACKENDS:
        return False
    stored = request.session.get(auth.HASH_SESSION_KEY) or ""
    return bool(stored) and constant_time_compare(stored, user.get_session_auth_hash())


class TenantMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HelpdeskHttpRequest) -> HttpResponse:
        request.tenant = None
        request.membership = None
        request.api_token = None
        host = request.get_host()
        if selectors.is_platform_host(host) or request.path.startswith(PLATFORM_PATHS):
            request.urlconf = "helpdesk.ops.urls"
            return self.get_response(request)
        tenant = selectors.find_tenant_for_host(host)
        if tenant is None:
            return _not_found(request, "There is no help desk at this address.")
        request.tenant = tenant

        authorization = request.headers.get("Authorization", "")
        if authorization.startswith("Token "):
            # Failed tokens are counted per client IP; past the limit every token request
            # from there is refused before its token is looked at, or a right guess would
            # still show.
            client_ip = ratelimit.client_ip(request)
            wait = ratelimit.retry_after("api_token_ip", client_ip)
            if wait:
                return ratelimit.too_many_requests(
                    request, retry_after=wait, message="Too many invalid API tokens."
                )
            token = account_selectors.find_api_token(authorization.removeprefix("Token ").strip())
            if token is None or token.tenant_id != tenant.id:
                ratelimit.hit("api_token_ip", client_ip)
            if token is None:
                return JsonResponse(
                    {"error": {"code": "not_authenticated", "message": "Invalid API token."}},
                    status=401,
                    headers={"WWW-Authenticate": "Token"},
                )
            if token.tenant_id != tenant.id:
                return JsonResponse(
                    {
                        "error": {
                            "code": "not_authenticated",
                            "message": "This API token belongs to another help desk; send it"
                            " to that help desk's address.",
                        }
                    },
                    status=401,
                    headers={"WWW-Authenticate": "Token"},
                )
            membership = selectors.find_membership(tenant_id=tenant.id, user_id=token.user_id)
            if membership is None:
                return _not_found(request, "Not found.")
            request.api_token = token
            request.membership = membership
            request.user = membership.user
            # CSRF protects cookie sessions; a token header cannot be sent cross-site.
            request._dont_enforce_csrf_checks = True
        elif request.session.get(auth.SESSION_KEY) is not None:
            # One query for the member and their user (not one for each), when the session
            # is sound; anything unusual takes Django's own path, which verifies and flushes.
            membership = selectors.find_membership(
                tenant_id=tenant.id, user_id=request.session[auth.SESSION_KEY]
            )
            if membership is not None and _session_is_current(request, membership.user):
                if sessions.is_seat_session_current(request.session, membership):
                    request.user = membership.user
                    request.membership = membership
                else:
                    # Opened before the seat was deactivated (and since reactivated): that
                    # session is over; the person logs in again.
                    auth.logout(request)
            elif request.user.is_authenticated:
                # A session of someone who is not (or no longer) a member of this tenant.
                return _not_found(request, "Not found.")

        with tenant_context(tenant.id):
            response = self.get_response(request)
            # A refused request changes nothing: a view that wrote something (a new contact)
            # before a later step refused (a 4xx) must not keep half of it.
            if response.status_code >= 400:
                transaction.set_rollback(True)
        return response
