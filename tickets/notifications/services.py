"""Notifications to agents: assigned to you, mentioned in a note, the customer replied on
(or rated) your ticket. Each one lands in the agent's in-app list (with an unread count in
the top bar) and, unless the agent switched that kind off (NotificationSetting), by email.
Nobody is notified of their own action. Services call `notify_on_commit`; the Celery
task `send_agent_notification` builds the email and queues it in the outbox (helpdesk.mail)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from uuid import UUID

from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from helpdesk.core.ids import new_id
from helpdesk.core.queries import insert_rows
from helpdesk.mail import services as mail
from helpdesk.mail.models import OutboundEmailKind
from helpdesk.tenancy import permissions
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.context import require_tenant_id
from helpdesk.tenancy.models import Membership
from tickets.models import (
    Message,
    Notification,
    NotificationKind,
    NotificationSetting,
    SatisfactionRating,
    SlaMetric,
    Ticket,
    TicketTask,
)
from tickets.notifications import tasks as notification_tasks

MENTION = re.compile(r"(?<![\w@])@([\w.+-]{2,64})")
HEADLINES = {
    NotificationKind.ASSIGNED: "A ticket was assigned to you",
    NotificationKind.MENTIONED: "You were mentioned in a note",
    NotificationKind.CUSTOMER_REPLIED: "The customer replied",
    NotificationKind.SATISFACTION_RATED: "The customer rated your help",
    NotificationKind.SLA_BREACHED: "An SLA target was missed",
    NotificationKind.TASK_REMINDER: "A reminder of your task",
}
# Kinds a light agent gets too: a mention, and a reminder of their own task.
FOR_LIGHT_AGENTS = {NotificationKind.MENTIONED, NotificationKind.TASK_REMINDER}


def settings_for(member: Membership) -> dict[str, bool]:
    """Every kind with the member's choice (on unless switched off)."""
    chosen = dict(
        NotificationSetting.objects.filter(membership=member).values_list("kind", "email_enabled")
    )
    return {kind: chosen.get(kind, True) for kind in NotificationKind.values}


def set_email_enabled(*, member: Membership, kind: str, enabled: bool) -> None:
    NotificationSetting.objects.update_or_create(
        membership=member, kind=kind, defaults={"email_enabled": enabled}
    )


def wants_email(member_id: UUID, kind: str) -> bool:
    return not NotificationSetting.objects.filter(
        membership_id=member_id, kind=kind, email_enabled=False
    ).exists()


def find_mentions(
    text: str, members: QuerySet[Membership] | Iterable[Membership]
) -> list[Membership]:
    """Members named in `@ana` (email local part) or `@Ana` (first name) form."""
    handles = {handle.lower().rstrip(".") for handle in MENTION.findall(text)}
    if not handles:
        return []
    found = []
    for member in members:
        local = member.user.email.split("@", 1)[0].lower()
        first = (member.user.name.split() or [""])[0].lower()
        if local in handles or (first and first in handles):
            found.append(member)
    return found


def notify_on_commit(
    *,
    kind: str,
    members: Iterable[Membership | None],
    ticket: Ticket,
    actor: Membership | None,
    message: Message | None = None,
) -> None:
    """An in-app notification for each member, and an email queued for after the commit
    (never the actor; light agents only for mentions)."""
    seen: set[UUID] = set()
    for member in members:
        if member is None or member.id in seen or (actor is not None and member.id == actor.id):
            continue
        if (
            not permissions.can_receive_ticket_notifications(member)
            and kind not in FOR_LIGHT_AGENTS
        ):
            continue
        seen.add(member.id)
        notification = Notification.objects.create(
            member=member, kind=kind, ticket=ticket, actor=actor, message=message
        )
        notification_tasks.send_agent_notification.delay_on_commit(
            tenant_id=str(ticket.tenant_id),
            member_id=str(member.id),
            kind=kind,
            ticket_id=str(ticket.id),
            message_id=str(message.id) if message else "",
            notification_id=str(notification.id),
        )


NOTIFICATIONS_PER_TASK = 100


def notify_many_on_commit(
    *,
    kind: str,
    entries: Iterable[tuple[UUID, Membership]],
    messages: Mapping[UUID, UUID] | None = None,
) -> int:
    """`notify_on_commit` for many tickets at once, by the system (no actor): (ticket id,
    member) pairs of the current tenant, one insert for all the in-app notifications
    (insert_rows) and one email task per NOTIFICATIONS_PER_TASK after the commit; a pair
    given twice is one notification. `messages`: the message each ticket's notification is
    about (by ticket id), if any. Automatic assignment of a batch of tickets and a batch of
    inbound mail's customer replies use it. Returns how many notifications were made."""
    messages = messages or {}
    pairs = dict.fromkeys(
        (ticket_id, member)
        for ticket_id, member in entries
        if permissions.can_receive_ticket_notifications(member) or kind in FOR_LIGHT_AGENTS
    )
    rows = [
        (str(new_id()), str(member.id), str(ticket_id), messages.get(ticket_id))
        for ticket_id, member in pairs
    ]
    if not rows:
        return 0
    now = timezone.now()
    tenant_id = require_tenant_id()
    varying = {
        "id": [row[0] for row in rows],
        "member_id": [row[1] for row in rows],
        "ticket_id": [row[2] for row in rows],
    }
    if messages:
        varying["message_id"] = [str(row[3]) if row[3] else None for row in rows]  # type: ignore[misc]
    insert_rows(
        Notification,
        varying,
        {"tenant_id": tenant_id, "kind": kind, "created_at": now, "updated_at": now},
    )
    for start in range(0, len(rows), NOTIFICATIONS_PER_TASK):
        notification_tasks.send_agent_notifications.delay_on_commit(
            tenant_id=str(tenant_id),
            notification_ids=[row[0] for row in rows[start : start + NOTIFICATIONS_PER_TASK]],
        )
    return len(rows)


def send_agent_notifications(*, notification_ids: Iterable[UUID], tenant_name: str) -> int:
    """The emails of notifications made by `notify_many_on_commit` (each as
    `send_agent_notification` would send it, once). Returns how many were queued."""
    entries = Notification.objects.filter(id__in=list(notification_ids)).values_list(
        "id", "member_id", "kind", "ticket_id", "message_id"
    )
    return sum(
        send_agent_notification(
            member_id=member_id,
            kind=kind,
            ticket_id=ticket_id,
            message_id=message_id,
            tenant_name=tenant_name,
            notification_id=notification_id,
        )
        for notification_id, member_id, kind, ticket_id, message_id in entries
    )


def send_agent_notification(
    *,
    member_id: UUID,
    kind: str,
    ticket_id: UUID,
    message_id: UUID | None,
    tenant_name: str,
    notification_id: UUID | None = None,
) -> bool:
    """Queue one notification email in the outbox, unless the agent switched this kind off.
    One email per notification: a redelivered task finds it queued already. (Tasks queued
    before notifications carried their id have no key to share, and send as before.)"""
    if not wants_email(member_id, kind):
        return False
    member = tenancy_selectors.get_member(member_id)
    ticket = Ticket.objects.select_related("tenant").get(id=ticket_id)
    message = Message.objects.filter(id=message_id).first() if message_id else None
    base = tenancy_selectors.tenant_base_url(ticket.tenant)
    excerpt = message.body_text[:1000] if message else ""
    if kind == NotificationKind.SATISFACTION_RATED:
        excerpt = _rating_excerpt(ticket)
    if kind == NotificationKind.SLA_BREACHED and message is not None:
        metric = dict(SlaMetric.choices).get(message.event.get("to"), "An SLA")
        excerpt = f"{metric} target missed on #{ticket.number} ({ticket.subject})."
    if kind == NotificationKind.TASK_REMINDER:
        excerpt = _task_excerpt(ticket_id=ticket_id, member_id=member_id)
    context = {
        "member_name": member.user.display_name,
        "headline": HEADLINES[NotificationKind(kind)],
        "ticket": ticket,
        "excerpt": excerpt,
        "ticket_url": base + reverse("tickets:ticket-detail", args=[ticket.number]),
        "settings_url": base + reverse("tickets:notification-settings"),
    }
    mailbox = ticket.mailbox
    email = mail.build(
        kind=OutboundEmailKind.NOTIFICATION,
        key=f"notification:{notification_id or new_id()}",
        template="agent_notification",
        context=context,
        to=[member.user.email],
        from_address=mailbox.address if mailbox else "",
        display_name=tenant_name if mailbox else "",
        headers={"X-Helpdesk-Ticket": str(ticket.number)},
        automatic="auto-generated",
    )
    mail.queue_email(email)
    return True


def _task_excerpt(*, ticket_id: UUID, member_id: UUID) -> str:
    """The task whose reminder this is: the member's last reminded task on the ticket."""
    task = (
        TicketTask.objects.filter(ticket_id=ticket_id, assignee_id=member_id)
        .exclude(reminded_at=None)
        .order_by("-reminded_at")
        .first()
    )
    if task is None:
        return ""
    due = f" (due {task.due_at:%Y-%m-%d %H:%M} UTC)" if task.due_at else ""
    return f"{task.title}{due}"


def _rating_excerpt(ticket: Ticket) -> str:
    """The rating as it is now (the customer may have changed it since): score and comment."""
    rating = SatisfactionRating.objects.filter(ticket=ticket).exclude(score="").first()
    if rating is None:
        return ""
    score = str(rating.score).capitalize()  # Good, Okay, Bad
    return f"{score}: {rating.comment[:1000]}" if rating.comment else score


def list_notifications(member: Membership, *, unread_only: bool = False) -> QuerySet[Notification]:
    """The member's notifications, newest first, with what the list shows."""
    entries = Notification.objects.filter(member=member)
    if unread_only:
        entries = entries.filter(read_at__isnull=True)
    return entries.select_related("ticket", "actor__user", "message").order_by("-created_at")


def unread_count(member: Membership) -> int:
    return Notification.objects.filter(member=member, read_at__isnull=True).count()


def mark_notifications_read(*, member: Membership, ids: Iterable[UUID] | None = None) -> int:
    """Mark the given notifications (all when None) read; returns how many changed."""
    entries = Notification.objects.filter(member=member, read_at__isnull=True)
    if ids is not None:
        entries = entries.filter(id__in=list(ids))
    return entries.update(read_at=timezone.now())
