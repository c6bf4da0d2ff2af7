"""Which seat a browser session was opened for, so ending a seat's sessions needs no list
of them (sessions live in the cache and cannot be searched by user).

A session opened on a tenant's host records the member id and the seat's
`session_generation`. Deactivating a seat raises the generation; the tenant middleware
then treats every older session of that seat as logged out, even after the seat is
reactivated. Other tenants' sessions of the same person are untouched (their seats have
their own generations). A session without the record (opened before this existed, or by
a test client's force_login) counts as generation 0.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.contrib.sessions.backends.base import SessionBase

    from helpdesk.tenancy.models import Membership

SEAT_SESSION_KEY = "_helpdesk_seat"


def _stamp(membership: Membership) -> str:
    return f"{membership.id}:{membership.session_generation}"


def remember_seat(session: SessionBase, membership: Membership) -> None:
    """Call right after `login()` on a tenant's host. Kept per tenant, in case a session
    cookie is ever shared between hosts."""
    seats = dict(session.get(SEAT_SESSION_KEY) or {})
    seats[str(membership.tenant_id)] = _stamp(membership)
    session[SEAT_SESSION_KEY] = seats


def is_seat_session_current(session: SessionBase, membership: Membership) -> bool:
    """The session was opened for this seat in its current generation."""
    stored = (session.get(SEAT_SESSION_KEY) or {}).get(str(membership.tenant_id))
    if stored is None:
        return membership.session_generation == 0
    return bool(stored == _stamp(membership))
