"""Request types that say what TenantMiddleware (and django-htmx) put on a request.

For type checking only: Django and DRF still build their own request objects, and these
classes are never instantiated. Views annotate `request` with the narrowest one that holds
for them, so `request.tenant` and `request.membership` are checked instead of ignored:

- `HelpdeskHttpRequest`: any request, the platform area's too (no tenant there).
- `UserHttpRequest`: a logged-in user's, as behind `@login_required`.
- `TenantHttpRequest`: a request on a tenant's host; it may be anonymous.
- `MemberHttpRequest`: a member's request, as behind `@member_required`.
- `MemberRequest`: the DRF request of a `TenantAPIView` (its permission requires a member).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest
from rest_framework.request import Request

if TYPE_CHECKING:
    from django_htmx.middleware import HtmxDetails

    from helpdesk.accounts.models import ApiToken, User
    from helpdesk.tenancy.models import Membership, Tenant


class HelpdeskHttpRequest(HttpRequest):
    tenant: Tenant | None
    membership: Membership | None
    api_token: ApiToken | None
    htmx: HtmxDetails
    # Django's CSRF middleware skips a request that carries this (an API token's).
    _dont_enforce_csrf_checks: bool


class UserHttpRequest(HelpdeskHttpRequest):
    """Behind `@login_required`: a logged-in user, on a tenant's host or the platform's."""

    user: User


class TenantHttpRequest(HelpdeskHttpRequest):
    tenant: Tenant


class MemberHttpRequest(TenantHttpRequest):
    membership: Membership
    user: User


class MemberRequest(Request):
    """DRF's request proxies attributes to the Django request it wraps."""

    _request: MemberHttpRequest
    tenant: Tenant
    membership: Membership
    api_token: ApiToken | None
