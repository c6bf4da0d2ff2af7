"""Tasks on tickets and the clocks that act on tickets: reminders, "on hold until", and
solving tickets left waiting on the customer.

Rules: a task has a title, an assignee (any active member: agent, light agent or admin), an
optional due time and reminder time, and is done or not. At the reminder time the assignee
gets an in-app notification of kind `task_reminder` and, unless they switched that kind
off, an email (tickets.notifications, through helpdesk.mail). Each reminder is sent once:
the beat sweeper claims it with a conditional UPDATE (`reminded_at` NULL → now) in the
transaction that makes the notification, so a second run, a restart or two workers never
send it twice; moving the reminder time arms it again. "Remind me" is a task of the
agent's own. A ticket put on hold until a time is open again at that time, once (the hold
is claimed alike); a ticket the agent moved on meanwhile is left alone. With the tenant's
`auto_solve_waiting_days`, a ticket waiting on the customer that long since the last
message is solved by the help desk, and the customer gets the solved status mail.
"""

from __future__ import annotations

import datetime
from typing import Any
from uuid import UUID

from django.db import transaction
from django.utils import timezone

from helpdesk.core import moments
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.models import Membership
from tickets.configuration import services as configuration
from tickets.errors import TaskInvalid
from tickets.models import (
    NotificationKind,
    Ticket,
    TicketHold,
    TicketStatus,
    TicketTask,
)
from tickets.notifications import services as notifications
from tickets.ticket import services as ticket_services

BATCH = 500
REMIND_ME_TITLE = "Reminder"


def _member(member_id: UUID) -> Membership:
    found = [m for m in tenancy_selectors.get_members([member_id]) if m.is_active]
    if not found:
        raise TaskInvalid("The assignee is not an active member of this help desk.")
    return found[0]


def _clean_title(title: str) -> str:
    title = " ".join(title.split())
    if not title:
        raise TaskInvalid("A task needs a title.")
    if len(title) > 200:
        raise TaskInvalid("A task title has at most 200 characters.")
    return title


@transaction.atomic
def create_task(
    *,
    ticket: Ticket,
    title: str,
    actor: Membership,
    assignee_id: UUID | None = None,
    due_at: datetime.datetime | None = None,
    remind_at: datetime.datetime | None = None,
    done: bool = False,
) -> TicketTask:
    """A task on the ticket (assigned to the actor unless someone else is named). Raises
    TaskInvalid (no title, an assignee who is not an active member), MomentOutOfRange."""
    moments.check(due_at, what="The due date")
    moments.check(remind_at, what="The reminder")
    assignee = _member(assignee_id) if assignee_id else actor
    return TicketTask.objects.create(
        ticket=ticket,
        title=_clean_title(title),
        assignee=assignee,
        created_by=actor,
        due_at=due_at,
        remind_at=remind_at,
        done=done,
        done_at=timezone.now() if done else None,
    )


def remind_me(
    *, ticket: Ticket, actor: Membership, at: datetime.datetime, title: str = ""
) -> TicketTask:
    """ "Remind me" on a ticket: a task of the actor's own that reminds them at `at`."""
    return create_task(ticket=ticket, title=title or REMIND_ME_TITLE, actor=actor, remind_at=at)


@transaction.atomic
def update_task(*, task: TicketTask, actor: Membership, changes: dict[str, Any]) -> TicketTask:
    """Change `title`, `assignee` (a member id), `due_at`, `remind_at` or `done`. A new
    reminder time (or assignee) arms the reminder again. Raises TaskInvalid,
    MomentOutOfRange."""
    moments.check(changes.get("due_at"), what="The due date")
    moments.check(changes.get("remind_at"), what="The reminder")
    fields: set[str] = set()
    if "title" in changes:
        task.title = _clean_title(changes["title"])
        fields.add("title")
    if "assignee" in changes and changes["assignee"] != task.assignee_id:
        task.assignee = _member(changes["assignee"])
        task.reminded_at = None
        fields |= {"assignee", "reminded_at"}
    if "due_at" in changes:
        task.due_at = changes["due_at"]
        fields.add("due_at")
    if "remind_at" in changes and changes["remind_at"] != task.remind_at:
        task.remind_at = changes["remind_at"]
        task.reminded_at = None
        fields |= {"remind_at", "reminded_at"}
    if "done" in changes and changes["done"] != task.done:
        task.done = changes["done"]
        task.done_at = timezone.now() if task.done else None
        fields |= {"done", "done_at"}
    if fields:
        task.save(update_fields=[*sorted(fields), "updated_at"])
    return task


def delete_task(*, task: TicketTask, actor: Membership) -> None:
    task.delete()


# --- Reminders ---------------------------------------------------------------------------


def send_due_reminders(*, now: datetime.datetime | None = None, limit: int = BATCH) -> int:
    """Notify the assignees of the current tenant's due reminders; returns how many.

    Each is claimed by `UPDATE … WHERE reminded_at IS NULL` in the transaction that makes
    its notification: a task already claimed (another run, before a restart) is skipped."""
    now = now or timezone.now()
    due = list(
        TicketTask.objects.filter(
            done=False, reminded_at__isnull=True, remind_at__isnull=False, remind_at__lte=now
        )
        .select_related("ticket", "assignee__user")
        .order_by("remind_at", "id")[:limit]
    )
    sent = 0
    for task in due:
        with transaction.atomic():
            claimed = TicketTask.objects.filter(
                id=task.id, reminded_at__isnull=True, done=False, remind_at=task.remind_at
            ).update(reminded_at=now, updated_at=now)
            if not claimed:
                continue
            notifications.notify_on_commit(
                kind=NotificationKind.TASK_REMINDER,
                members=[task.assignee],
                ticket=task.ticket,
                actor=None,
            )
            sent += 1
    return sent


# --- On hold until ----------------------------------------------------------------------


@transaction.atomic
def hold_until(*, ticket: Ticket, until: datetime.datetime, actor: Membership) -> TicketHold:
    """Put the ticket on hold until `until`; then it is open again. Raises what
    change_status raises (a closed ticket) and TaskInvalid for a time in the past,
    MomentOutOfRange."""
    moments.check(until, what="The end of the hold")
    if until <= timezone.now():
        raise TaskInvalid("Choose a time in the future.")
    ticket_services.change_status(ticket=ticket, status=TicketStatus.ON_HOLD, actor=actor)
    hold, _ = TicketHold.objects.update_or_create(
        ticket=ticket, defaults={"until": until, "released_at": None}
    )
    return hold


def release_due_holds(*, now: datetime.datetime | None = None, limit: int = BATCH) -> int:
    """Open the current tenant's tickets whose hold has run out; returns how many opened.
    Each hold is claimed once; a ticket no longer on hold is left as it is."""
    now = now or timezone.now()
    due = list(
        TicketHold.objects.filter(released_at__isnull=True, until__lte=now)
        .select_related("ticket")
        .order_by("until", "id")[:limit]
    )
    opened = 0
    for hold in due:
        with transaction.atomic():
            if not TicketHold.objects.filter(id=hold.id, released_at__isnull=True).update(
                released_at=now, updated_at=now
            ):
                continue
            ticket = Ticket.objects.select_for_update(of=("self",)).get(id=hold.ticket_id)
            if ticket.status == TicketStatus.ON_HOLD and not ticket.is_spam:
                ticket_services.change_status(ticket=ticket, status=TicketStatus.OPEN, actor=None)
                opened += 1
    return opened


# --- Solving tickets left waiting on the customer ----------------------------------------


def solve_stale_waiting(*, now: datetime.datetime | None = None, limit: int = BATCH) -> int:
    """Solve the current tenant's tickets waiting on the customer for the tenant's
    `auto_solve_waiting_days` since their last message, with the solved mail to the
    customer. Returns how many were solved (0 with the setting off)."""
    days = configuration.get_settings().auto_solve_waiting_days
    if not days:
        return 0
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(days=days)
    ids = list(
        Ticket.objects.filter(
            status=TicketStatus.WAITING, last_message_at__lt=cutoff, is_spam=False
        )
        .order_by("last_message_at")
        .values_list("id", flat=True)[:limit]
    )
    solved = 0
    for ticket_id in ids:
        with transaction.atomic():
            ticket = (
                Ticket.objects.select_for_update(of=("self",), skip_locked=True)
                .select_related("contact", "tenant")
                .filter(id=ticket_id, status=TicketStatus.WAITING, last_message_at__lt=cutoff)
                .first()
            )
            if ticket is None:
                continue
            ticket_services.change_status(
                ticket=ticket, status=TicketStatus.SOLVED, actor=None, notify_customer=True
            )
            solved += 1
    return solved
