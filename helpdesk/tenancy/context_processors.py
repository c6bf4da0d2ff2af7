"""Template context: the tenant, the member and what the member may do (`may`, from
`helpdesk.tenancy.permissions`). The tenants to switch to come from
`helpdesk.accounts.context_processors`."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from helpdesk.tenancy import permissions


def tenancy(request: HttpRequest) -> dict[str, Any]:
    membership = getattr(request, "membership", None)
    return {
        "tenant": getattr(request, "tenant", None),
        "membership": membership,
        # {% if may.manage_settings %}: templates ask the permissions module, never the role.
        "may": permissions.flags(membership),
    }
