"""TenantMiddleware: host -> tenant, then the rest of the request inside its tenant context.

The rest of the request runs inside `tenant_context(tenant.id)`: one transaction, rolled
back when the response is an error (4xx or 5xx). A view that waits on a remote peer
finishes its response after that transaction (helpdesk.tenancy.after_transaction).
Requests to the bare base domain go to the platform area; any other unknown host gets a 404
page. Who is asking (a member's session or an API token) is found next, inside that
context, by `helpdesk.accounts.middleware.PrincipalMiddleware`, listed right after this one.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from helpdesk.core import ratelimit
from helpdesk.tenancy import audit, selectors
from helpdesk.tenancy.after_transaction import FinishedAfterTransaction
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.http import HelpdeskHttpRequest


def not_found(request: HttpRequest, message: str) -> HttpResponse:
    """The 404 of the middlewares: the JSON error envelope under /api/, a page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"error": {"code": "not_found", "message": message}}, status=404)
    return render(request, "errors/unknown_host.html", {"message": message}, status=404)


# Paths served by the platform URLs on every host, outside any tenant context.
PLATFORM_PATHS = ("/anymail/",)


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
            return not_found(request, "There is no help desk at this address.")
        request.tenant = tenant

        with audit.request_origin(ratelimit.client_address(request)):
            with tenant_context(tenant.id):
                response = self.get_response(request)
                # A refused request changes nothing: a view that wrote something (a new
                # contact) before a later step refused (a 4xx) must not keep half of it.
                if response.status_code >= 400:
                    transaction.set_rollback(True)
            # What must be on record even when the request was refused (a failed sign-in).
            audit.write_after_request(request, tenant.id)
        if isinstance(response, FinishedAfterTransaction):
            # Outside the transaction and the tenant context: a view's wait on a remote
            # peer holds no transaction open (helpdesk.tenancy.after_transaction).
            response.finish()
        return response
