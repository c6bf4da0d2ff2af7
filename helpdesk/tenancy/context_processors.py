"""Template context: the tenant, the member and the tenants to switch to."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from helpdesk.accounts import selectors as account_selectors


def tenancy(request: HttpRequest) -> dict[str, Any]:
    tenant = getattr(request, "tenant", None)
    membership = getattr(request, "membership", None)
    switchable = []
    if membership is not None:
        switchable = [
            m.tenant
            for m in account_selectors.list_user_memberships(membership.user)
            if m.tenant_id != tenant.id
        ]
    return {"tenant": tenant, "membership": membership, "switchable_tenants": switchable}
