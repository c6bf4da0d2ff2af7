"""Template context: the member's other tenants, for the tenant switcher on every page."""

from __future__ import annotations

import time
from typing import Any

from django.http import HttpRequest

from helpdesk.accounts import selectors

SWITCHABLE_SECONDS = 300
SESSION_KEY = "helpdesk_switchable_tenants"


def tenant_switcher(request: HttpRequest) -> dict[str, Any]:
    membership = getattr(request, "membership", None)
    switchable: list[dict[str, str]] = []
    if membership is not None:
        switchable = _switchable(request, membership, getattr(request, "tenant", None))
    return {"switchable_tenants": switchable}


def _switchable(request: HttpRequest, membership: Any, tenant: Any) -> list[dict[str, str]]:
    """The member's other tenants (slug, name), kept in the session for a few minutes: every
    page shows the switcher, and a query per page for a list that rarely changes is waste."""
    session = getattr(request, "session", None)
    remembered = session.get(SESSION_KEY) if session is not None else None
    if (
        isinstance(remembered, dict)
        and remembered.get("member") == str(membership.id)
        and time.time() - float(remembered.get("at", 0)) < SWITCHABLE_SECONDS
    ):
        return list(remembered.get("tenants", []))
    tenants = [
        {"slug": m.tenant.slug, "name": m.tenant.name}
        for m in selectors.list_user_memberships(membership.user)
        if m.tenant_id != tenant.id
    ]
    if session is not None and getattr(request, "api_token", None) is None:
        session[SESSION_KEY] = {"member": str(membership.id), "at": time.time(), "tenants": tenants}
    return tenants
