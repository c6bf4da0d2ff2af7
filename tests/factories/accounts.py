"""People: members of a tenant with a role, made through the real services."""

from __future__ import annotations

import itertools

from helpdesk.accounts import services
from helpdesk.tenancy.models import Membership, MembershipRole, Tenant

_counter = itertools.count(1)
PASSWORD = "correct-horse-battery"


def make_member(
    tenant: Tenant, role: str = MembershipRole.AGENT, *, email: str | None = None, name: str = ""
) -> Membership:
    number = next(_counter)
    user = services.get_or_create_user(
        email=email or f"agent{number}@{tenant.slug}.test",
        name=name or f"Agent {number}",
        password=PASSWORD,
    )
    return services.add_member(tenant=tenant, user=user, role=role)
