"""Email templates: built-in wording, overridden per tenant and again per department.

Resolution for a ticket: the department's template, else the tenant's, else the built-in
one. The acknowledgement is the exception: a mailbox whose acknowledgement text was
edited (Admin → mailbox) wins over all three. Rendering replaces the known placeholders
only (helpdesk.core.placeholders), so admin-written text cannot reach anything else.

The built-in wording is English source text marked for translation (`gettext_noop`,
translations in locale/<language>/LC_MESSAGES/django.po); it is translated into the
tenant's language each time an email is composed, never at import. A tenant's or a
department's own wording is sent as written. Saving a field unchanged from the built-in
wording (in any offered language) stores it empty, so it keeps following the built-in
wording in the tenant's language.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext_noop

from departments.models import DEFAULT_AUTO_ACK_BODY, DEFAULT_AUTO_ACK_SUBJECT, Department
from helpdesk.core import batching, placeholders
from helpdesk.tenancy import permissions
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.context import require_tenant_id
from helpdesk.tenancy.models import Membership
from helpdesk.tenancy.permissions import Capability
from tickets.configuration import services as configuration
from tickets.errors import InvalidEmailTemplate
from tickets.mail_out import tracking
from tickets.models import EmailTemplate, EmailTemplateKind, TicketPriority

K = EmailTemplateKind
# The built-in wording: English source text (the msgids), translated by `built_in` when an
# email is composed. The reply wrapper has no words of its own.
DEFAULTS: dict[str, dict[str, str]] = {
    K.LAYOUT: {
        "header": "",
        "footer": gettext_noop(
            "{{ tenant.name }} · Request #{{ ticket.number }}\nReply to this email to answer."
        ),
    },
    K.ACKNOWLEDGEMENT: {"subject": DEFAULT_AUTO_ACK_SUBJECT, "body": DEFAULT_AUTO_ACK_BODY},
    K.REPLY: {"body": "{{ reply.body }}\n\n{{ agent.signature }}"},
    K.STATUS_WAITING: {
        "subject": gettext_noop("We are waiting for your answer [#{{ ticket.number }}]"),
        "body": gettext_noop(
            "Hello {{ contact.first_name }},\n\nwe need a little more information to go "
            "on with request #{{ ticket.number }} ({{ ticket.subject }}). Please reply "
            "to this email."
        ),
    },
    K.STATUS_SOLVED: {
        "subject": gettext_noop("Your request is solved [#{{ ticket.number }}]"),
        "body": gettext_noop(
            "Hello {{ contact.first_name }},\n\nwe marked request #{{ ticket.number }} "
            "({{ ticket.subject }}) as solved. If something is still not right, just "
            "reply and it opens again."
        ),
    },
    K.SATISFACTION_REQUEST: {
        "subject": gettext_noop("How did we do? [#{{ ticket.number }}]"),
        "body": gettext_noop(
            "Hello {{ contact.first_name }},\n\nhow satisfied are you with our help on "
            "request #{{ ticket.number }} ({{ ticket.subject }})? One click tells us:\n\n"
            "Good, I'm satisfied: {{ satisfaction.good_link }}\n"
            "Okay, it was all right: {{ satisfaction.okay_link }}\n"
            "Bad, I'm unsatisfied: {{ satisfaction.bad_link }}\n\n"
            "You can add a comment on that page, and change your rating later through the "
            "same link."
        ),
    },
}
# Built-in text with no words to translate (the reply wrapper is placeholders only).
UNTRANSLATED = frozenset({DEFAULTS[K.REPLY]["body"]})
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


# The wording in force by (department id or None, kind), kept for a batch's emails.
Wordings = dict[tuple[Any, str], Wording]
TEMPLATES_SECONDS = 600
StoredWordings = dict[tuple[str, str], dict[str, str]]


def _stored_wordings_key() -> str:
    return f"email-templates:{require_tenant_id()}"


def _stored_wordings() -> StoredWordings:
    """Every wording the tenant stored, by (kind, department id or ""). Read for each email
    the help desk writes (two per acknowledgement), so cached; saving or resetting drops it.
    Asked once per inbound batch, a miss included (read and cached inside the question)."""
    key = _stored_wordings_key()
    stored: StoredWordings = batching.remembered(key, lambda: _cached_wordings(key))
    return stored


def _cached_wordings(key: str) -> StoredWordings:
    cached = cache.get(key)
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


def tenant_language() -> str:
    """The current tenant's language (`Tenant.language`, the help center's too), which
    customer mail is written in; the site's default when it has none."""
    language = tenancy_selectors.get_tenant(require_tenant_id()).language
    return language or settings.LANGUAGE_CODE


@functools.lru_cache(maxsize=256)
def translated(text: str, language: str) -> str:
    """`text` (built-in source text) in `language`; untranslated where the catalogue has
    no entry. Empty stays empty (gettext("") would be the catalogue's header). Remembered:
    switching the active language costs about 0.1 ms, several times per email, and the
    catalogues do not change while the process runs."""
    if not text or text in UNTRANSLATED:
        return text
    with translation.override(language):
        return translation.gettext(text)


def built_in(kind: str, name: str, language: str | None = None) -> str:
    """The built-in wording of one field of `kind`, in `language` (default: the current
    tenant's)."""
    text = DEFAULTS[kind].get(name, "")
    return translated(text, language or tenant_language()) if text else ""


def effective_template(
    kind: str, department_id: Any | None, *, language: str | None = None
) -> Wording:
    """The wording in force: department's, else tenant's, else built-in (field by field:
    an empty field falls through to the next level). Built-in wording is in `language`
    (default: the current tenant's); the tenant's own wording is used as written."""
    stored = _stored_wordings()
    levels = [stored.get((kind, str(department_id))) if department_id else None]
    levels.append(stored.get((kind, "")))
    values = {}
    for name in FIELDS:
        own = next((row[name] for row in levels if row and row[name]), "")
        if not own and DEFAULTS[kind].get(name):
            language = language or tenant_language()
            own = built_in(kind, name, language)
        values[name] = own
    return Wording(**values)


def is_built_in(kind: str, name: str, text: str) -> bool:
    """Whether `text` is the built-in wording of that field in one of the offered languages
    (line endings as a browser posts them and surrounding white space aside)."""
    source = DEFAULTS[kind].get(name, "")
    if not source or not text.strip():
        return False
    plain = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    return any(plain == translated(source, code).strip() for code, _ in settings.LANGUAGES)


SUBJECT_LENGTH = 250  # EmailTemplate.subject


def check(*, kind: str | None = None, **fields: str) -> None:
    """Raises InvalidEmailTemplate naming every unknown placeholder, and for a kind sent
    before any agent answered (the acknowledgement), `{{ agent.name }}`; and for a subject
    longer than the column holds."""
    if len(fields.get("subject", "")) > SUBJECT_LENGTH:
        raise InvalidEmailTemplate(f"The subject is at most {SUBJECT_LENGTH} characters.")
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
    # The built-in wording saved as it was shown (the editor starts from it) is stored empty,
    # so it keeps following the built-in wording in the tenant's language. A department's
    # field only where the tenant has no wording of its own for it, which it would inherit.
    tenant_row = _stored_wordings().get((kind, "")) if department is not None else None
    for name in FIELDS:
        if not (tenant_row and tenant_row[name]) and is_built_in(kind, name, clean[name]):
            clean[name] = ""
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


# "Re: RE: AW: ..." at the start of a subject: the template's "Re:" (German "AW:") before a
# customer's own.
_STACKED_REPLY_PREFIXES = re.compile(
    r"^(?P<first>re|aw|sv|antw)\s*:\s*(?:(?:re|aw|sv|antw)\s*:\s*)+", re.IGNORECASE
)


def tidy_subject(subject: str) -> str:
    """One line, and one reply prefix (the template's, which comes first) where a
    template's "Re:" meets the customer's."""
    return _STACKED_REPLY_PREFIXES.sub(
        lambda match: f"{match['first']}: ", " ".join(subject.split()), count=1
    )


def wording_in_force(
    kind: str,
    department_id: Any | None,
    language: str | None,
    wordings: Wordings | None,
) -> Wording:
    """effective_template, kept in `wordings` by (department, kind) when given: for many
    emails in one language and one configuration (a batch of acknowledgements)."""
    if wordings is None:
        return effective_template(kind, department_id, language=language)
    key = (department_id, kind)
    wording = wordings.get(key)
    if wording is None:
        wording = wordings[key] = effective_template(kind, department_id, language=language)
    return wording


def compose(
    *,
    kind: str,
    department_id: Any | None,
    values: dict[str, str],
    language: str | None = None,
    wordings: Wordings | None = None,
) -> tuple[str, str]:
    """(subject, text) of a customer email: the kind's wording inside the layout, built-in
    wording in `language` (default: the current tenant's). `wordings`: see
    wording_in_force."""
    language = language or tenant_language()
    wording = render(wording_in_force(kind, department_id, language, wordings), values)
    layout = render(wording_in_force(K.LAYOUT, department_id, language, wordings), values)
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
