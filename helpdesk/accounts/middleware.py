"""PrincipalMiddleware: who is asking on a tenant's host, a member's session or an API token.

Listed right after `helpdesk.tenancy.middleware.TenantMiddleware`, so it runs inside the
tenant context that one opened (nothing here writes to the database: failed tokens are
counted in Redis, sessions live in the cache). It sets `request.membership`, `request.user`
and, for a token, `request.api_token`; DRF authentication only reads them. A user or token
of another tenant gets a 404 (a session) or a 401 (a token); anonymous requests go on with
no principal, and each view decides what they may see.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib import auth
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils.crypto import constant_time_compare

from helpdesk.accounts import selectors as account_selectors
from helpdesk.accounts import two_factor
from helpdesk.accounts.models import User
from helpdesk.core import ratelimit
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy import sessions
from helpdesk.tenancy.http import HelpdeskHttpRequest
from helpdesk.tenancy.middleware import not_found
from helpdesk.tenancy.models import Tenant


def _session_is_current(request: HttpRequest, user: User) -> bool:
    """What django.contrib.auth.get_user checks, for a user loaded with the membership: the
    session's backend is configured and its hash matches the user's current password."""
    if request.session.get(auth.BACKEND_SESSION_KEY) not in settings.AUTHENTICATION_BACKENDS:
        return False
    stored = request.session.get(auth.HASH_SESSION_KEY) or ""
    return bool(stored) and constant_time_compare(stored, user.get_session_auth_hash())


def _two_factor_first(request: HttpRequest) -> HttpResponse | None:
    """A session without a second factor in a tenant that requires one (opened before the
    admins turned it on): only the two-factor page and logging out, until it is set up."""
    allowed = {reverse("accounts:two-factor"), reverse("accounts:logout")}
    if request.path in allowed:
        return None
    if request.path.startswith("/api/"):
        return JsonResponse(
            {
                "error": {
                    "code": "two_factor_required",
                    "message": "This help desk requires two-factor sign-in: set it up first.",
                }
            },
            status=403,
        )
    return HttpResponseRedirect(reverse("accounts:two-factor"))


class PrincipalMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HelpdeskHttpRequest) -> HttpResponse:
        tenant = request.tenant
        if tenant is None:
            # The platform area: Django's own authentication applies there.
            return self.get_response(request)
        refused = self._find_principal(request, tenant)
        if refused is not None:
            return refused
        return self.get_response(request)

    def _find_principal(self, request: HelpdeskHttpRequest, tenant: Tenant) -> HttpResponse | None:
        """Set the principal on the request; the response that refuses it, if any."""
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
            membership = tenancy_selectors.find_membership(
                tenant_id=tenant.id, user_id=token.user_id
            )
            if membership is None:
                return not_found(request, "Not found.")
            request.api_token = token
            request.membership = membership
            request.user = membership.user
            # CSRF protects cookie sessions; a token header cannot be sent cross-site.
            request._dont_enforce_csrf_checks = True
        elif request.session.get(auth.SESSION_KEY) is not None:
            # One query for the member and their user (not one for each), when the session
            # is sound; anything unusual takes Django's own path, which verifies and flushes.
            membership = tenancy_selectors.find_membership(
                tenant_id=tenant.id, user_id=request.session[auth.SESSION_KEY]
            )
            if membership is not None and _session_is_current(request, membership.user):
                if sessions.is_seat_session_current(request.session, membership):
                    request.user = membership.user
                    request.membership = membership
                    if tenant.require_two_factor and not request.session.get(
                        two_factor.SESSION_VERIFIED
                    ):
                        return _two_factor_first(request)
                else:
                    # Opened before the seat was deactivated (and since reactivated): that
                    # session is over; the person logs in again.
                    auth.logout(request)
            elif request.user.is_authenticated:
                # A session of someone who is not (or no longer) a member of this tenant.
                return not_found(request, "Not found.")
        return None
