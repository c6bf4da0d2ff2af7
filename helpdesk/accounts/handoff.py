"""One login across tenants: a signed, single-use, one-minute token carries the session
from one tenant's host to another's (hosts do not share cookies, custom domains never can)."""

from __future__ import annotations

from uuid import UUID

from django.core import signing
from django.core.cache import cache

from helpdesk.core.ids import new_id

SALT = "helpdesk.accounts.handoff"
MAX_AGE_SECONDS = 60


def make_token(*, user_id: UUID, tenant_id: UUID) -> str:
    return signing.dumps({"u": str(user_id), "t": str(tenant_id), "n": str(new_id())}, salt=SALT)


def read_token(token: str, *, tenant_id: UUID) -> UUID | None:
    """The user id if the token is valid for this tenant and unused; None otherwise."""
    try:
        data = signing.loads(token, salt=SALT, max_age=MAX_AGE_SECONDS)
    except signing.BadSignature:
        return None
    if data.get("t") != str(tenant_id):
        return None
    if not cache.add(f"handoff:{data['n']}", 1, MAX_AGE_SECONDS * 2):
        return None  # already used
    return UUID(data["u"])
