"""A ticket's life: created, moved along TICKET_TRANSITIONS, assigned, its fields changed,
marked spam. Every change is recorded as an event message."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from departments import selectors as department_selectors
from departments.models import Department, Mailbox
from helpdesk.core import moments
from helpdesk.tenancy import permissions
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.models import Membership
from helpdesk.tenancy.permissions import Capability
from tickets.configuration import services as configuration
from tickets.errors import (
    AssigneeNotAgent,
    ConfigurationInvalid,
    ContactInvalid,
    CustomFieldInvalid,
    EmptyMessage,
    ReplyNotAllowed,
    TicketClosed,
    TicketTransitionNotAllowed,
)
from tickets.mail_in.intake import base_address
from tickets.mail_out import selectors as mail_out_selectors
from tickets.mail_out import templates as mail_templates
from tickets.models import (
    Contact,
    CustomFieldTarget,
    CustomStatus,
    EmailTemplateKind,
    Message,
    NotificationKind,
    Ticket,
    TicketChannel,
    TicketFieldValue,
    TicketPriority,
    TicketStatus,
    field_value_digest,
)
from tickets.notifications import services as notifications
from tickets.satisfaction import services as satisfaction
from tickets.signals import send_ticket_assignee_changed, send_ticket_changed
from tickets.ticket.services.base import (
    MAX_TAG_LENGTH,
    TICKET_TRANSITIONS,
    lock_ticket,
    next_ticket_number,
    normalize_tag,
    record_event,
    refresh_search_vector,
    set_tags,
    snippet,
)
from tickets.ticket.services.messages import (
    MessageContent,
    create_customer_message,
    queue_email_message,
)


def create_ticket(
    *,
    subject: str,
    body: str,
    contact: Contact,
    department: Department,
    channel: str = TicketChannel.WEB,
    priority: str = TicketPriority.NORMAL,
    tags: Iterable[str] = (),
    actor: Membership | None = None,
    language: str = "en",
    content: MessageContent | None = None,
    follow_up_of: Ticket | None = None,
    mailbox: Mailbox | None = None,
) -> Ticket:
    """A new open ticket with the customer's first message. Raises EmptyMessage.

    `content` carries what an email adds to the body (HTML, quoted history, attachments,
    Message-ID); `follow_up_of` links a ticket opened by a reply to a closed one.
    """
    if not body.strip():
        raise EmptyMessage()
    if actor is not None:
        check_ticket_by_a_person(actor=actor, priority=priority, contact=contact)
    # Checked before the transaction, so the block needs no savepoint of its own: inside a
    # caller's transaction (a task, a request) nothing in it is caught and carried on from.
    with transaction.atomic(savepoint=False):
        ticket = Ticket.objects.create(
            number=next_ticket_number(),
            last_message_snippet=snippet(body),
            subject=subject.strip()[:250] or "(no subject)",
            contact=contact,
            department=department,
            channel=channel,
            priority=priority,
            last_message_at=timezone.now(),
            follow_up_of=follow_up_of,
            mailbox=mailbox,
        )
        # Callers (the inbound pipeline) need the first message; spare them a query.
        ticket.first_message = create_customer_message(  # type: ignore[attr-defined]
            ticket, contact, body, content or MessageContent()
        )
        if channel == TicketChannel.PHONE and actor is not None:
            # The first message is the customer's words as the agent took them down: the
            # timeline says who logged the call, and when.
            record_event(ticket=ticket, actor=actor, field="phone_call", old=None, new=None)
        if follow_up_of is not None:
            record_event(
                ticket=follow_up_of, actor=None, field="follow_up", old=None, new=ticket.number
            )
        tag_names = set_tags(ticket, tags) if tags else []
        refresh_search_vector(ticket=ticket, language=language, bodies=[body], tag_names=tag_names)
        send_ticket_changed(ticket, "created")
    return ticket


def _check_priority(priority: str) -> None:
    """A level of the tenant's scale (Settings → Tickets)."""
    allowed = [level.value for level in configuration.priority_levels()]
    if priority not in allowed:
        raise ConfigurationInvalid(f"Priority is one of {', '.join(allowed)}.")


def check_ticket_by_a_person(*, actor: Membership, priority: str, contact: Contact) -> None:
    """What an agent (page or API) may open: not as a light agent, a priority of the
    tenant's scale, and a customer who is not one of our own mailboxes (replies to it would
    come back as mail from ourselves, which intake refuses)."""
    permissions.require(actor, Capability.CREATE_TICKETS, ReplyNotAllowed())
    _check_priority(priority)
    own = department_selectors.own_addresses()
    if contact.email in own or base_address(contact.email) in own:
        raise ContactInvalid(
            f"{contact.email} is one of this help desk's own mailbox addresses, not a customer.",
            field="contact_email",
        )


def _check_required_fields(ticket: Ticket) -> None:
    """A required ticket field must have a value before an agent solves the ticket, by
    any way (page, bulk action, reply with a status, API); mail never has to fill it."""
    missing = [
        field
        for field in configuration.list_custom_fields(CustomFieldTarget.TICKET)
        if field.is_required and ticket.custom_fields.get(field.key) in (None, "")
    ]
    if missing:
        labels = ", ".join(field.label for field in missing)
        raise CustomFieldInvalid(
            f"Fill in {labels} before solving the ticket.", field=missing[0].key
        )


def _check_transition(ticket: Ticket, status: str) -> None:
    if status not in TICKET_TRANSITIONS.get(ticket.status, frozenset()):
        if ticket.status == TicketStatus.CLOSED:
            raise TicketClosed(number=ticket.number)
        raise TicketTransitionNotAllowed(frm=ticket.status, to=status)


STATUS_EMAILS = {
    TicketStatus.WAITING: EmailTemplateKind.STATUS_WAITING,
    TicketStatus.SOLVED: EmailTemplateKind.STATUS_SOLVED,
}


@transaction.atomic
def change_status(
    *, ticket: Ticket, status: str, actor: Membership | None, notify_customer: bool = False
) -> Ticket:
    """Move the ticket along TICKET_TRANSITIONS. Raises TicketClosed, TicketTransitionNotAllowed.

    With `notify_customer` (an agent changing the status by itself, not with a reply), a
    move to waiting or solved emails the customer the tenant's status template. A move to
    solved plans the satisfaction survey (tickets.satisfaction).
    """
    lock_ticket(ticket)
    if status == ticket.status:
        return ticket
    _check_transition(ticket, status)
    if status == TicketStatus.SOLVED and actor is not None:
        _check_required_fields(ticket)
    old = ticket.status
    ticket.status = status
    ticket.solved_at = timezone.now() if status == TicketStatus.SOLVED else ticket.solved_at
    ticket.save(update_fields=["status", "solved_at", "updated_at"])
    record_event(ticket=ticket, actor=actor, field="status", old=old, new=status)
    send_ticket_changed(ticket, "status")
    if ticket.custom_status is not None and ticket.custom_status.base_status != status:
        _set_custom_status(ticket, None, actor)  # the finer status no longer holds
    if notify_customer and status in STATUS_EMAILS and ticket.contact.email_bounced_at is None:
        _queue_status_email(ticket=ticket, kind=STATUS_EMAILS[TicketStatus(status)], actor=actor)
    if status == TicketStatus.SOLVED:
        satisfaction.schedule_survey(ticket=ticket)
    return ticket


def _queue_status_email(*, ticket: Ticket, kind: str, actor: Membership | None) -> Message:
    values = mail_templates.placeholder_values(
        ticket,
        mail_out_selectors.get_reply_mailbox(ticket),
        ticket.tenant.name,
        agent_name=actor.user.display_name if actor else "",
    )
    subject, body = mail_templates.compose(
        kind=kind,
        department_id=ticket.department_id,
        values=values,
        language=ticket.tenant.language,
    )
    return queue_email_message(ticket=ticket, body=body, is_automatic=True, subject=subject)


@transaction.atomic
def release_member_tickets(*, membership_id: Any) -> int:
    """Unassign the member's unsolved tickets (recorded in each ticket's history, by the
    system, as `unassignable`), so they show as unassigned instead of waiting on someone
    who left; a department that assigns automatically hands them out again."""
    tickets = list(
        Ticket.objects.select_for_update(of=("self",)).filter(
            assignee_id=membership_id, is_unsolved=True
        )
    )
    for ticket in tickets:
        assign_ticket(ticket=ticket, assignee=None, actor=None, via="unassignable")
    return len(tickets)


@transaction.atomic
def assign_ticket(
    *, ticket: Ticket, assignee: Membership | None, actor: Membership | None, via: str = ""
) -> Ticket:
    """Give the ticket to an agent or admin of this tenant (None unassigns); `via` says
    what did it when not a person (the history words it). Tells automation
    (ticket_assignee_changed), which may hand the department's backlog out."""
    if assignee is not None:
        if assignee.tenant_id != ticket.tenant_id:
            raise AssigneeNotAgent(member_id=str(assignee.id))
        if not permissions.can_take_tickets(assignee) or not assignee.is_active:
            raise AssigneeNotAgent(member_id=str(assignee.id))
    lock_ticket(ticket)
    old = ticket.assignee_id
    new = assignee.id if assignee else None
    if old == new:
        return ticket
    if ticket.is_closed:
        raise TicketClosed(number=ticket.number)
    ticket.assignee = assignee
    ticket.save(update_fields=["assignee", "updated_at"])
    record_event(
        ticket=ticket,
        actor=actor,
        field="assignee",
        old=str(old) if old else None,
        new=str(new) if new else None,
        via=via,
    )
    send_ticket_assignee_changed(ticket, old)
    if assignee is not None:
        notifications.notify_on_commit(
            kind=NotificationKind.ASSIGNED, members=[assignee], ticket=ticket, actor=actor
        )
    return ticket


def take_if_unassigned(*, ticket: Ticket, actor: Membership | None) -> bool:
    """Viewing is not owning: an unassigned ticket becomes the agent's when they reply to
    it or change it (and when they press Take, which assigns it to them). Nothing for the
    help desk itself, light agents, or a closed, spam or merged ticket. True when taken."""
    if (
        actor is None
        or ticket.assignee_id is not None
        or not actor.is_active
        or not permissions.can_take_tickets(actor)
        or ticket.is_closed
        or ticket.is_spam
        or ticket.merged_into_id
    ):
        return False
    assign_ticket(ticket=ticket, assignee=actor, actor=actor)
    return True


def _unchanged(ticket: Ticket, field: str, value: Any) -> bool:
    """Is `value` what the ticket already holds? (Forms send every field on each save.)"""
    if field in {"assignee", "department", "type", "custom_status"}:
        held: object = getattr(ticket, f"{field}_id")
        return (value.id if value is not None else None) == held
    if field == "custom_fields":
        return False  # merged and compared after validation
    if field == "tags":
        wanted = sorted({normalize_tag(n) for n in value if normalize_tag(n)})
        return wanted == sorted(ticket.tags.values_list("name", flat=True))
    return bool(getattr(ticket, field) == value)


def _store_field_values(ticket: Ticket, values: dict[str, Any]) -> None:
    """Make the ticket's TicketFieldValue rows (the inbox filters' index) match `values`."""
    TicketFieldValue.objects.filter(ticket=ticket).exclude(key__in=list(values)).delete()
    TicketFieldValue.objects.bulk_create(
        [
            TicketFieldValue(
                ticket=ticket,
                key=key,
                digest=field_value_digest(value),
                tenant_id=ticket.tenant_id,
            )
            for key, value in sorted(values.items())
        ],
        update_conflicts=True,
        unique_fields=["tenant", "ticket", "key"],
        update_fields=["digest", "updated_at"],
    )


@transaction.atomic
def update_ticket(
    *, ticket: Ticket, actor: Membership | None, language: str = "en", **changes: Any
) -> Ticket:
    """Apply field changes (status, custom_status, priority, type, department, assignee,
    subject, tags, due_at, custom_fields), each one through its rule and recorded as an
    event. A custom status also sets the status it maps onto. Values equal to the current
    ones are not changes; the status moves last, so a ticket can be edited and closed in
    one go. Raises ReplyNotAllowed (light agents), TicketClosed, ConfigurationInvalid,
    MomentOutOfRange."""
    permissions.require(
        actor,
        Capability.CHANGE_TICKETS,
        ReplyNotAllowed("Light agents read tickets and write internal notes only."),
    )
    moments.check(changes.get("due_at"), what="The due date")
    lock_ticket(ticket)
    if changes.get("custom_status") is not None:
        changes["status"] = changes["custom_status"].base_status
    changes = {k: v for k, v in changes.items() if not _unchanged(ticket, k, v)}
    status = changes.pop("status", None)
    has_custom = "custom_status" in changes
    custom = changes.pop("custom_status", None)
    if ticket.is_closed and (changes or has_custom):
        raise TicketClosed(number=ticket.number)
    if "assignee" in changes:
        assign_ticket(ticket=ticket, assignee=changes["assignee"], actor=actor)
    elif changes or status is not None or has_custom:
        take_if_unassigned(ticket=ticket, actor=actor)
    if "priority" in changes:
        _check_priority(changes["priority"])
    for field in ("priority", "subject"):
        if field in changes:
            old = getattr(ticket, field)
            setattr(ticket, field, changes[field])
            ticket.save(update_fields=[field, "updated_at"])
            record_event(ticket=ticket, actor=actor, field=field, old=old, new=changes[field])
    if "department" in changes:
        old_name = ticket.department.name
        ticket.department = changes["department"]
        ticket.save(update_fields=["department", "updated_at"])
        record_event(
            ticket=ticket, actor=actor, field="department", old=old_name, new=ticket.department.name
        )
    if "type" in changes:
        old_type = ticket.type.name if ticket.type else None
        ticket.type = changes["type"]
        ticket.save(update_fields=["type", "updated_at"])
        new_type = ticket.type.name if ticket.type else None
        record_event(ticket=ticket, actor=actor, field="type", old=old_type, new=new_type)
    if "due_at" in changes:
        old_due = ticket.due_at.isoformat() if ticket.due_at else None
        ticket.due_at = changes["due_at"]
        ticket.save(update_fields=["due_at", "updated_at"])
        new_due = ticket.due_at.isoformat() if ticket.due_at else None
        record_event(ticket=ticket, actor=actor, field="due_at", old=old_due, new=new_due)
    # Rules and SLA policies read these: one ticket_changed for all of them.
    fields_changed = bool({"priority", "department", "type"} & set(changes))
    if "custom_fields" in changes:
        before_fields = dict(ticket.custom_fields)
        after_fields = configuration.clean_custom_values(
            CustomFieldTarget.TICKET, changes["custom_fields"], current=before_fields
        )
        if after_fields != before_fields:
            if ticket.is_closed:
                raise TicketClosed(number=ticket.number)
            ticket.custom_fields = after_fields
            ticket.save(update_fields=["custom_fields", "updated_at"])
            fields_changed = True
            for key in sorted(set(before_fields) | set(after_fields)):
                if before_fields.get(key) != after_fields.get(key):
                    record_event(
                        ticket=ticket,
                        actor=actor,
                        field=f"custom_fields.{key}",
                        old=before_fields.get(key),
                        new=after_fields.get(key),
                    )
        # Also when nothing changed (a form sends every field): rows that fell out of step
        # (written by older code during a deploy) are put right by the next save.
        _store_field_values(ticket, after_fields)
    if "tags" in changes:
        too_long = [n for n in changes["tags"] if len(" ".join(n.split())) > MAX_TAG_LENGTH]
        if too_long:
            raise ConfigurationInvalid(
                f"A tag has at most {MAX_TAG_LENGTH} characters; shorten "
                f"“{' '.join(too_long[0].split())[:MAX_TAG_LENGTH]}…”."
            )
        before = sorted(ticket.tags.values_list("name", flat=True))
        after = set_tags(ticket, changes["tags"])
        if before != after:
            record_event(ticket=ticket, actor=actor, field="tags", old=before, new=after)
            ticket.save(update_fields=["updated_at"])
            fields_changed = True
    if fields_changed:
        send_ticket_changed(ticket, "fields")
    if {"subject", "tags"} & set(changes):
        refresh_search_vector(ticket=ticket, language=language)
    if status is not None:
        change_status(ticket=ticket, status=status, actor=actor, notify_customer=True)
    if has_custom:
        _set_custom_status(ticket, custom, actor)
    return ticket


def _set_custom_status(
    ticket: Ticket, custom: CustomStatus | None, actor: Membership | None
) -> None:
    if (custom.id if custom else None) == ticket.custom_status_id:
        return
    old = ticket.custom_status.name if ticket.custom_status else None
    ticket.custom_status = custom
    ticket.save(update_fields=["custom_status", "updated_at"])
    record_event(
        ticket=ticket,
        actor=actor,
        field="custom_status",
        old=old,
        new=custom.name if custom else None,
    )


@transaction.atomic
def mark_spam(*, ticket: Ticket, actor: Membership, is_spam: bool = True) -> Ticket:
    """Move the ticket to the spam view (out of every other view), or back."""
    lock_ticket(ticket)
    if ticket.is_spam == is_spam:
        return ticket
    ticket.is_spam = is_spam
    ticket.save(update_fields=["is_spam", "updated_at"])
    record_event(ticket=ticket, actor=actor, field="spam", old=not is_spam, new=is_spam)
    send_ticket_changed(ticket, "spam")
    return ticket


@transaction.atomic
def record_sla_breach(*, ticket: Ticket, metric: str) -> Message:
    """A missed SLA target in the ticket history, told to the assignee (to the admins
    while nobody has the ticket)."""
    event = record_event(ticket=ticket, actor=None, field="sla_breach", old=None, new=metric)
    members = (
        [ticket.assignee]
        if ticket.assignee_id
        else list(
            tenancy_selectors.list_members(
                roles=permissions.roles_with(Capability.RECEIVE_UNASSIGNED_ALERTS)
            )
        )
    )
    notifications.notify_on_commit(
        kind=NotificationKind.SLA_BREACHED,
        members=members,
        ticket=ticket,
        actor=None,
        message=event,
    )
    return event


def set_sla_state(
    *, ticket: Ticket, due_at: datetime.datetime | None, metric: str, paused: bool
) -> None:
    """Store the ticket's SLA as automation computed it: the first running target (due
    time and metric) or paused. Not an activity: `updated_at` stays."""
    if (ticket.sla_due_at, ticket.sla_metric, ticket.sla_paused) == (due_at, metric, paused):
        return
    Ticket.objects.filter(id=ticket.id).update(
        sla_due_at=due_at, sla_metric=metric, sla_paused=paused
    )
    ticket.sla_due_at, ticket.sla_metric, ticket.sla_paused = due_at, metric, paused
