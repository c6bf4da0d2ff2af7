"""What customers do on the web, without an account: ask for help from the help center's
request form (a ticket on the channel "web", created by `create_ticket` like every other
ticket, so workflow rules and assignment see it); from a request's tracking page, reply
and mark it solved; and sign in to the portal with a one-time link mailed to their
address, to see all their requests."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from uuid import UUID

from django.core import signing
from django.core.cache import cache
from django.db import transaction
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from departments import selectors as department_selectors
from helpdesk.mail import services as mail
from helpdesk.mail.models import OutboundEmailKind
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.context import require_tenant_id
from tickets.contacts import selectors as contact_selectors
from tickets.errors import EmptyMessage
from tickets.mail_out import templates as mail_templates
from tickets.mail_out import tracking
from tickets.models import (
    Contact,
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
    with translation.override(tenant.language or "en"):
        _acknowledge(ticket=ticket, tenant_name=tenant.name, language=tenant.language or "en")
    return ticket


def _acknowledge(*, ticket: Ticket, tenant_name: str, language: str) -> Message | None:
    """The tenant's acknowledgement wording (its email templates), and the tracking link
    in the tenant's language when the wording does not carry it."""
    if ticket.contact.email_bounced_at is not None:
        return None
    values = mail_templates.placeholder_values(ticket, None, tenant_name)
    try:
        subject, body = mail_templates.compose(
            kind=EmailTemplateKind.ACKNOWLEDGEMENT,
            department_id=ticket.department_id,
            values=values,
            language=language,
        )
    except Exception:
        subject = f"[#{ticket.number}] {ticket.subject}"
        body = _("We received your request #%(number)s.") % {"number": ticket.number}
    link = tracking.tracking_link(ticket)
    if link not in body:
        follow = _("Follow your request and answer it here: %(link)s") % {"link": link}
        body = f"{body}\n\n{follow}"
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


SIGN_IN_SALT = "helpdesk.tickets.portal.sign-in"
SIGN_IN_MAX_AGE = 3600


def send_sign_in_link(*, email: str) -> bool:
    """Mail a one-time sign-in link for the customer portal to a known contact (through the
    outbox). An unknown address gets nothing, and the caller answers the same either way, so
    the form tells nobody which addresses we know. Returns whether a link was sent."""
    contact = contact_selectors.find_contact_by_email(email)
    if contact is None or contact.email_bounced_at is not None:
        return False
    tenant = tenancy_selectors.get_tenant(require_tenant_id())
    nonce = secrets.token_urlsafe(16)
    token = signing.dumps({"c": str(contact.id), "n": nonce}, salt=SIGN_IN_SALT, compress=True)
    link = tenancy_selectors.tenant_base_url(tenant) + reverse("portal:sign-in-link", args=[token])
    with translation.override(tenant.language or "en"):
        message = mail.build(
            kind=OutboundEmailKind.PORTAL_SIGN_IN,
            key=f"portal-sign-in:{contact.id}:{nonce}",
            template="portal_sign_in",
            context={
                "name": contact.name,
                "tenant": tenant.name,
                "link": link,
                "minutes": SIGN_IN_MAX_AGE // 60,
            },
            to=[contact.email],
            display_name=tenant.name,
            automatic="auto-generated",
            tags=["portal-sign-in"],
        )
    mail.queue_email(message)
    return True


def contact_from_sign_in_token(token: str) -> Contact | None:
    """The contact a sign-in link was sent to, the first time it is used within
    SIGN_IN_MAX_AGE; None for a used, expired, forged or other tenant's link."""
    try:
        data = signing.loads(token, salt=SIGN_IN_SALT, max_age=SIGN_IN_MAX_AGE)
        contact_id = UUID(str(data["c"]))
        nonce = str(data["n"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    contact = Contact.objects.filter(id=contact_id).first()
    if contact is None:
        return None
    # One use: the first request claims the nonce (a Redis key set only if absent).
    if not cache.add(f"portal-sign-in-used:{nonce}", 1, timeout=SIGN_IN_MAX_AGE + 60):
        return None
    return contact_selectors.surviving(contact)
