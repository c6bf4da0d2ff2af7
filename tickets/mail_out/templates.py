"""Email templates: built-in wording, overridden per tenant and again per department.

Resolution for a ticket: the department's template, else the tenant's, else the built-in
one. The acknowledgement is the exception: a mailbox whose acknowledgement text was
edited (Admin → mailbox) wins over all three. Rendering replaces the known placeholders
only (helpdesk.core.placeholders), so admin-written text cannot reach anything else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db import transaction

from departments.models import DEFAULT_AUTO_ACK_BODY, DEFAULT_AUTO_ACK_SUBJECT, Department
from helpdesk.core import batching, placeholders
from helpdesk.tenancy import permissions
from helpdesk.tenancy.context import require_tenant_id
from helpdesk.tenancy.models import Membership
from helpdesk.tenancy.permissions import Capability
from tickets.configuration import services as configuration
from tickets.errors import InvalidEmailTemplate
from tickets.mail_out import tracking
from tickets.models import EmailTemplate, EmailTemplateKind, TicketPriority

K = EmailTemplateKind
DEFAULTS: dict[str, dict[str, str]] = {
    K.LAYOUT: {
        "header": "",
        "footer": "{{ tenant.name }} · Request #{{ ticket.number }}\n"
        "Reply to this email to answer.",
    },
    K.ACKNOWLEDGEMENT: {"subject": DEFAULT_AUTO_ACK_SUBJECT, "body": DEFAULT_AUTO_ACK_BODY},
    K.REPLY: {"body": "{{ reply.body }}\n\n{{ agent.signature }}"},
    K.STATUS_WAITING: {
        "subject": "We are waiting for your answer [#{{ ticket.number }}]",
        "body": "Hello {{ contact.first_name }},\n\nwe need a little more information to go "
        "on with request #{{ ticket.number }} ({{ ticket.subject }}). Please reply "
        "to this email.",
    },
    K.STATUS_SOLVED: {
        "subject": "Your request is solved [#{{ ticket.number }}]",
        "body": "Hello {{ contact.first_name }},\n\nwe marked request #{{ ticket.number }} "
        "({{ ticket.subject }}) as solved. If something is still not right, just "
        "reply and it opens again.",
    },
    K.SATISFACTION_REQUEST: {
        "subject": "How did we do? [#{{ ticket.number }}]",
        "body": "Hello {{ contact.first_name }},\n\nhow satisfied are you with our help on "
        "request #{{ ticket.number }} ({{ ticket.subject }})? One click tells us:\n\n"
        "Good, I'm satisfied: {{ satisfaction.good_link }}\n"
        "Okay, it was all right: {{ satisfaction.okay_link }}\n"
        "Bad, I'm unsatisfied: {{ satisfaction.bad_link }}\n\n"
        "You can add a comment on that page, and change your rating later through the "
        "same link.",
    },
}
FIELDS = ("subject", "body", "header", "footer")
SAMPLE_VALUES = {
    "contact.name": "Carla Diaz",
    "contact.first_name": "Carla",
    "contact.email": "carla@example.com",
    "ticket.number": "123",
    "ticket.subject": "Printer on fire",
    "ticket.status": "Open",
    "ticket.priority": "High",
    "ticket.tracking_link": "https://example.helpdesk.example/track/sample/",
    "department.name": "Support",
    "tenant.name": "Example Inc.",
    "mailbox.address": "support@example.com",
    "agent.name": "Ana Agent",
    "agent.signature": "Ana Agent\nCustomer support",
    "reply.body": "Try turning it off and on again.",
    "satisfaction.good_link": "https://example.helpdesk.example/satisfaction/sample/?score=good",
    "satisfaction.okay_link": "https://example.helpdesk.example/satisfaction/sample/?score=okay",
    "satisfaction.bad_link": "https://example.helpdesk.example/satisfaction/sample/?score=bad",
}


@dataclass(frozen=True)
class Wording:
    subject: str = ""
    body: str = ""
    header: str = ""
    footer: str = ""


TEMPLATES_SECONDS = 600
StoredWordings = dict[tuple[str, str], dict[str, str]]


def _stored_wordings_key() -> str:
    return f"email-templates:{require_tenant_id()}"


def _stored_wordings() -> StoredWordings:
    """Every wording the tenant stored, by (kind, department id or ""). Read for each email
    the help desk writes (two per acknowledgement), so cached; saving or resetting drops it."""
    key = _stored_wordings_key()
    cached = batching.remembered(key, lambda: cache.get(key))  # once per inbound batch
    if isinstance(cached, dict):
        return cached
    stored: StoredWordings = {
        (row["kind"], str(row["department_id"] or "")): {name: row[name] for name in FIELDS}
        for row in EmailTemplate.objects.values("kind", "department_id", *FIELDS)
    }
    cache.set(key, stored, TEMPLATES_SECONDS)
    return stored


def _forget_stored_wordings() -> None:
    key = _stored_wordings_key()
    cache.delete(key)
    transaction.on_commit(lambda: cache.delete(key))


def effective_template(kind: str, department_id: Any | None) -> Wording:
    """The wording in force: department's, else tenant's, else built-in (field by field:
    an empty field falls through to the next level)."""
    stored = _stored_wordings()
    levels = [stored.get((kind, str(department_id))) if department_id else None]
    levels.append(stored.get((kind, "")))
    values = {}
    for name in FIELDS:
        chosen = next(
            (row[name] for row in levels if row and row[name]),
            DEFAULTS[kind].get(name, ""),
        )
        values[name] = chosen
    return Wording(**values)


def check(*, kind: str | None = None, **fields: str) -> None:
    """Raises InvalidEmailTemplate naming every unknown placeholder, and for a kind sent
    before any agent answered (the acknowledgement), `{{ agent.name }}`."""
    text = "\n".join(fields.values())
    unknown = placeholders.unknown_placeholders(text)
    if unknown:
        raise InvalidEmailTemplate(str(placeholders.UnknownPlaceholder(unknown)))
    if kind == K.ACKNOWLEDGEMENT and {"agent.name", "agent.signature"} & placeholders.names_used(
        text
    ):
        raise InvalidEmailTemplate(placeholders.NO_AGENT_YET)


@transaction.atomic
def save_template(
    *, kind: str, department: Department | None, actor: Membership | None, **fields: str
) -> EmailTemplate:
    """Store a tenant's (department None) or a department's wording. Empty fields inherit.
    Admins only (PermissionDenied); `actor` None is the system."""
    permissions.require(actor, Capability.MANAGE_SETTINGS)
    if kind not in EmailTemplateKind.values:
        raise InvalidEmailTemplate(f"unknown template kind {kind!r}")
    clean = {name: fields.get(name, "") for name in FIELDS}
    check(kind=kind, **clean)
    if kind == K.REPLY and clean["body"] and "reply.body" not in clean["body"]:
        raise InvalidEmailTemplate("The reply wrapper must contain {{ reply.body }}.")
    template, _ = EmailTemplate.objects.update_or_create(
        kind=kind, department=department, defaults=clean
    )
    _forget_stored_wordings()
    return template


@transaction.atomic
def reset_template(*, kind: str, department: Department | None, actor: Membership | None) -> None:
    """Back to the inherited wording. Admins only (PermissionDenied)."""
    permissions.require(actor, Capability.MANAGE_SETTINGS)
    EmailTemplate.objects.filter(kind=kind, department=department).delete()
    _forget_stored_wordings()


def render(wording: Wording, values: dict[str, str]) -> Wording:
    return Wording(**{name: placeholders.render(getattr(wording, name), values) for name in FIELDS})


def preview(*, kind: str | None = None, **fields: str) -> Wording:
    """The fields rendered with sample data (the editor's preview). Raises
    InvalidEmailTemplate as saving them as `kind` would."""
    check(kind=kind, **fields)
    return render(Wording(**{n: fields.get(n, "") for n in FIELDS}), SAMPLE_VALUES)


# "Re: RE: AW: ..." at the start of a subject: the template's "Re:" before a customer's own.
_STACKED_REPLY_PREFIXES = re.compile(r"^(?:(?:re|aw|sv|antw)\s*:\s*){2,}", re.IGNORECASE)


def tidy_subject(subject: str) -> str:
    """One line, and one reply prefix where a template's "Re:" meets the customer's."""
    return _STACKED_REPLY_PREFIXES.sub("Re: ", " ".join(subject.split()), count=1)


def compose(*, kind: str, department_id: Any | None, values: dict[str, str]) -> tuple[str, str]:
    """(subject, text) of a customer email: the kind's wording inside the layout."""
    wording = render(effective_template(kind, department_id), values)
    layout = render(effective_template(K.LAYOUT, department_id), values)
    text = "\n\n".join(
        part.strip("\n") for part in (layout.header, wording.body, layout.footer) if part.strip()
    )
    return tidy_subject(wording.subject), text


def priority_label(priority: str) -> str:
    """The tenant's name for a priority level, as agents see it."""
    labels = configuration.priority_labels()
    return labels.get(priority) or TicketPriority(priority).label


def placeholder_values(
    ticket: Any, mailbox: Any, tenant_name: str, agent_name: str = ""
) -> dict[str, str]:
    """The placeholder values for one ticket's email."""
    contact = ticket.contact
    name = contact.name or contact.email.split("@", 1)[0]
    return {
        "contact.name": name,
        "contact.first_name": name.split()[0] if name.split() else name,
        "contact.email": contact.email,
        "ticket.number": str(ticket.number),
        "ticket.subject": ticket.subject,
        "ticket.status": ticket.get_status_display(),
        "ticket.priority": priority_label(ticket.priority),
        "ticket.tracking_link": tracking.tracking_link(ticket),
        "department.name": ticket.department.name,
        "tenant.name": tenant_name,
        "mailbox.address": mailbox.address if mailbox else "",
        "agent.name": agent_name,
        "agent.signature": agent_name,
        "reply.body": "",
        # Filled in for the satisfaction request only (tickets.satisfaction).
        "satisfaction.good_link": "",
        "satisfaction.okay_link": "",
        "satisfaction.bad_link": "",
    }
