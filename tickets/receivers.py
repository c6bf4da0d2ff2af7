"""Receivers of what lower layers report; each only enqueues a task (see CONTRIBUTING.md)."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from helpdesk.accounts.signals import member_unassignable
from tickets.ticket import tasks as ticket_tasks


@receiver(member_unassignable, dispatch_uid="tickets.release_member_tickets")
def release_their_tickets(*, tenant_id: Any, membership_id: Any, **_: Any) -> None:
    """A deactivated member (or one now a light agent) keeps no unsolved tickets."""
    ticket_tasks.release_member_tickets.delay_on_commit(
        tenant_id=str(tenant_id), membership_id=str(membership_id)
    )
