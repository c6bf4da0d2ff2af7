"""What customers do on the web, without an account: ask for help from the help center's
request form (a ticket on the channel "web", created by `create_ticket` like every other
ticket, so workflow rules and assignment see it) and, from a request's tracking page,
reply and mark it solved."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from departments import selectors as department_selectors
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.context import require_tenant_id
from tickets.errors import EmptyMessage
from tickets.mail_out import templates as mail_templates
from tickets.mail_out import tracking
from tickets.models import (
    EmailTemplateKind,
    Message,
    Ticket,
    TicketChannel,
    TicketStatus,
)
from tickets.ticket.services.base import record_event
from tickets.ticket.services.conversation import add_customer_message
from tickets.ticket.services.lifecycle import change_status, create_ticket
from tickets.ticket.services.messages import (
    MessageContent,
    NewAttachment,
    queue_email_message,
)
from tickets.ticket.services.people import get_or_create_contact


@transaction.atomic
def submit_web_request(
    *,
    name: str,
    email: str,
    subject: str,
    message: str,
    attachments: Iterable[NewAttachment] = (),
) -> Ticket:
    """A request from the help center's form: a new ticket on the channel "web" in the
    default department, from the contact with that address (created when new), and an
    acknowledgement mailed to that address with the request's tracking link, so only the
    address's owner can follow the conversation. Raises EmptyMessage,
    DepartmentNotFound (a tenant without any department)."""
    tenant = tenancy_selectors.get_tenant(require_tenant_id())
    contact = get_or_create_contact(email=email, name=name)
    ticket = create_ticket(
        subject=subject,
        body=message,
        contact=contact,
        department=department_selectors.get_default_department(),
        channel=TicketChannel.WEB,
        language=tenant.language,
        content=MessageContent(attachments=list(attachments)),
    )
    _acknowledge(ticket=ticket, tenant_name=tenant.name)
    return ticket


def _acknowledge(*, ticket: Ticket, tenant_name: str) -> Message | None:
    if ticket.contact.email_bounced_at is not None:
        return None
    values = mail_templates.placeholder_values(ticket, None, tenant_name)
    try:
        subject, body = mail_templates.compose(
            kind=EmailTemplateKind.ACKNOWLEDGEMENT,
            department_id=ticket.department_id,
            values=values,
        )
    except Exception:
        subject = f"[#{ticket.number}] {ticket.subject}"
        body = f"We received your request #{ticket.number}."
    link = tracking.tracking_link(ticket)
    if link not in body:
        body = f"{body}\n\nFollow your request and answer it here: {link}"
    return queue_email_message(ticket=ticket, body=body, is_automatic=True, subject=subject)


@transaction.atomic
def reply_from_portal(
    *, ticket: Ticket, body: str, attachments: Iterable[NewAttachment] = ()
) -> Message:
    """The requester answers from the tracking page: a customer message by the ticket's
    contact (reopens a waiting or solved request). Raises EmptyMessage, TicketClosed."""
    if not body.strip():
        raise EmptyMessage()
    tenant = tenancy_selectors.get_tenant(require_tenant_id())
    return add_customer_message(
        ticket=ticket,
        contact=ticket.contact,
        body=body,
        content=MessageContent(attachments=list(attachments)),
        language=tenant.language,
    )


@transaction.atomic
def solve_from_portal(*, ticket: Ticket) -> Ticket:
    """The requester says their request is solved. Raises TicketClosed,
    TicketTransitionNotAllowed."""
    if ticket.status == TicketStatus.SOLVED:
        return ticket
    change_status(ticket=ticket, status=TicketStatus.SOLVED, actor=None)
    record_event(ticket=ticket, actor=None, field="solved_by", old=None, new="customer")
    return ticket
