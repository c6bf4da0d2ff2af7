"""One login across tenants: a signed, single-use, one-minute token carries the session
from one tenant's host to another's (hosts do not share cookies, custom domains never can).

Only a session the login's own credentials opened travels. A tenant's single sign-on is
configured by that tenant's admin, who could make their provider vouch for any address:
it speaks for the login on that tenant only, so a session it opened (or one handed over
from such a session) is not carried elsewhere; the other tenant's own sign-in is asked
instead. A session that does not say how it was opened (one from before this rule) is
treated the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

from django.core import signing
from django.core.cache import cache

from helpdesk.core.ids import new_id

if TYPE_CHECKING:
    from django.contrib.sessions.backends.base import SessionBase

SALT = "helpdesk.accounts.handoff"
MAX_AGE_SECONDS = 60
# How this host's session was opened: the sign-in method of the audit log ("password",
# "oidc+totp", "tenant_switch"...), set by the sign-in views.
SIGN_IN_METHOD_KEY = "_helpdesk_sign_in_method"
# Sign-ins a tenant's own configuration vouches for.
TENANT_VOUCHED_METHODS = ("oidc",)


def remember_sign_in(session: SessionBase, method: str) -> None:
    session[SIGN_IN_METHOD_KEY] = method


def may_hand_over(session: SessionBase) -> bool:
    """The session may be carried to another tenant of the same login."""
    method = str(session.get(SIGN_IN_METHOD_KEY) or "")
    first_step = method.split("+", 1)[0]
    return bool(first_step) and first_step not in TENANT_VOUCHED_METHODS


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
