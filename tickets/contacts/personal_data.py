"""Data-protection requests about a contact: export everything the help desk holds about
them, or erase them. Invariants: admins only (Capability.HANDLE_PERSONAL_DATA), each in
the audit log (which names the contact by id only); an erasure keeps the tickets as
anonymous records (status, priority, times, department, agent, scores: the statistics)
and removes the person from names, addresses, message bodies and subjects, attachments,
the raw mail, the outbox and the search index, in one transaction (files go after the
commit). The tenant's retention setting does the same to old solved tickets, or deletes
them, every night (`apply_retention`).

The contact's merged duplicates (other addresses of the same person) are part of them:
exported and erased with them.
"""

from __future__ import annotations

import calendar
import datetime
import json
import shutil
import tempfile
import zipfile
from typing import IO, Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from helpdesk.mail.models import OutboundEmail
from helpdesk.tenancy import audit, permissions
from helpdesk.tenancy.models import AuditAction, Membership
from helpdesk.tenancy.permissions import Capability
from tickets.configuration import services as configuration
from tickets.models import (
    RESOLVED_STATUSES,
    Attachment,
    Contact,
    InboundEmail,
    Message,
    MessageKind,
    Notification,
    SatisfactionRating,
    Ticket,
    TicketFieldValue,
    TicketFollower,
    WorkspaceSettingsRetentionAction,
)
from tickets.signals import send_contacts_erased, send_tickets_erased
from tickets.ticket import services as ticket_services

# What the customer saw of the conversation: internal notes, forwards and system events are
# the team's working notes and are left out of the export.
EXPORTED_KINDS = [MessageKind.CUSTOMER, MessageKind.REPLY]
ERASED_NAME = ""
ERASED_SUBJECT = "[erased]"


def _time(value: Any) -> str | None:
    return value.isoformat() if value else None


def _people(contact: Contact) -> list[Contact]:
    """The contact and the duplicates merged into it."""
    return [contact, *Contact.objects.filter(merged_into=contact).order_by("created_at")]


def _contact_data(contact: Contact) -> dict[str, Any]:
    return {
        "id": str(contact.id),
        "email": contact.email,
        "name": contact.name,
        "phone": contact.phone,
        "notes": contact.notes,
        "custom_fields": contact.custom_fields,
        "company": (
            {"id": str(contact.company_id), "name": contact.company.name}
            if contact.company is not None
            else None
        ),
        "created_at": _time(contact.created_at),
        "updated_at": _time(contact.updated_at),
    }


def _message_data(message: Message) -> dict[str, Any]:
    author = "system"
    if message.author_contact_id:
        author = "contact"
    elif message.author_member_id:
        author = "agent"
    return {
        "id": str(message.id),
        "kind": message.kind,
        "author": author,
        "author_name": (
            message.author_member.user.display_name if message.author_member is not None else ""
        ),
        "created_at": _time(message.created_at),
        "subject": message.email_subject,
        "to": message.email_to,
        "cc": message.email_cc,
        "body_text": message.body_text,
        "attachments": [
            {
                "id": str(attachment.id),
                "filename": attachment.filename,
                "content_type": attachment.content_type,
                "size": attachment.size,
            }
            for attachment in message.attachments.all()
        ],
    }


def collect_contact_data(contact: Contact) -> dict[str, Any]:
    """Everything about the contact (and their merged duplicates) as JSON-ready data: the
    contact rows, their tickets with the conversation, what they wrote on other tickets,
    the tickets they follow, and their ratings."""
    people = _people(contact)
    ids = [person.id for person in people]
    tickets = list(
        Ticket.objects.filter(contact_id__in=ids)
        .select_related("department")
        .prefetch_related("tags")
        .order_by("created_at")
    )
    messages = (
        Message.objects.filter(
            Q(ticket__in=tickets, kind__in=EXPORTED_KINDS) | Q(author_contact_id__in=ids)
        )
        .select_related("author_member__user")
        .prefetch_related("attachments")
        .order_by("created_at", "id")
    )
    by_ticket: dict[Any, list[dict[str, Any]]] = {}
    elsewhere: list[dict[str, Any]] = []
    own = {ticket.id for ticket in tickets}
    numbers = dict(Ticket.objects.filter(messages__in=messages).values_list("id", "number"))
    for message in messages:
        data = _message_data(message)
        if message.ticket_id in own:
            by_ticket.setdefault(message.ticket_id, []).append(data)
        else:
            elsewhere.append({"ticket": numbers.get(message.ticket_id), **data})
    ratings = SatisfactionRating.objects.filter(contact_id__in=ids).select_related("ticket")
    followed = TicketFollower.objects.filter(contact_id__in=ids).select_related("ticket")
    return {
        "exported_at": _time(timezone.now()),
        "contact": _contact_data(contact),
        "merged_contacts": [_contact_data(person) for person in people[1:]],
        "tickets": [
            {
                "id": str(ticket.id),
                "number": ticket.number,
                "subject": ticket.subject,
                "status": ticket.status,
                "priority": ticket.priority,
                "channel": ticket.channel,
                "department": ticket.department.name if ticket.department_id else None,
                "tags": sorted(tag.name for tag in ticket.tags.all()),
                "custom_fields": ticket.custom_fields,
                "created_at": _time(ticket.created_at),
                "solved_at": _time(ticket.solved_at),
                "messages": by_ticket.get(ticket.id, []),
            }
            for ticket in tickets
        ],
        "messages_on_other_tickets": elsewhere,
        "followed_tickets": sorted({follow.ticket.number for follow in followed}),
        "ratings": [
            {
                "ticket": rating.ticket.number,
                "score": rating.score,
                "comment": rating.comment,
                "sent_at": _time(rating.sent_at),
                "rated_at": _time(rating.rated_at),
            }
            for rating in ratings.order_by("created_at")
            if rating.sent_at is not None
        ],
    }


@transaction.atomic
def export_contact(
    *, contact: Contact, actor: Membership | None, form: str = "json"
) -> dict[str, Any]:
    """Everything about the contact (collect_contact_data), recorded in the audit log
    (`form`: json or zip, as the caller delivers it). Raises PermissionDenied (not an
    admin)."""
    if actor is not None:
        permissions.require(actor, Capability.HANDLE_PERSONAL_DATA)
    data = collect_contact_data(contact)
    audit.record_audit_event(
        action=AuditAction.CONTACT_EXPORTED,
        actor=actor,
        target_type="contact",
        target_id=contact.id,
        details={"tickets": len(data["tickets"]), "form": form},
    )
    return data


@transaction.atomic
def export_for_customer(*, contact: Contact, form: str = "json") -> dict[str, Any]:
    """The export a customer downloads from the portal (signed in by a one-time link to
    their address): the same data without the agents' notes about them; in the audit log
    as asked by the customer."""
    data = collect_contact_data(contact)
    for person in [data["contact"], *data["merged_contacts"]]:
        person.pop("notes", None)
    audit.record_audit_event(
        action=AuditAction.CONTACT_EXPORTED,
        actor=None,
        target_type="contact",
        target_id=contact.id,
        details={"tickets": len(data["tickets"]), "form": form, "by": "the customer"},
    )
    return data


def _safe_name(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "._- " else "_" for c in name).strip(" .")
    return cleaned[:120] or "file"


# Exports up to this size stay in memory; a bigger one (a contact with large attachments)
# is written to a temporary file on disk, so memory does not grow with the attachments.
ZIP_SPOOL_BYTES = 8 * 1024 * 1024
COPY_CHUNK_BYTES = 1024 * 1024


def _listed_attachments(data: dict[str, Any]) -> list[str]:
    return [
        attachment["id"]
        for ticket in data["tickets"]
        for message in ticket["messages"]
        for attachment in message["attachments"]
    ] + [
        attachment["id"]
        for message in data["messages_on_other_tickets"]
        for attachment in message["attachments"]
    ]


def build_zip(data: dict[str, Any], *, json_name: str = "contact.json") -> IO[bytes]:
    """The export as a zip in a temporary file (rewound, for the caller to send and
    close): `json_name` (the data) and every attachment listed in it under
    `attachments/<attachment id>/<file name>`. Each file is copied from storage in chunks,
    so a contact with a gigabyte of attachments never holds more than a chunk in memory.
    A file lost from storage is left out (the JSON still lists it). Call it inside the
    tenant's transaction: the attachments are looked up there."""
    spool = tempfile.SpooledTemporaryFile(max_size=ZIP_SPOOL_BYTES)  # noqa: SIM115 - returned
    try:
        with zipfile.ZipFile(spool, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
            archive.writestr(json_name, json.dumps(data, indent=2, ensure_ascii=False))
            listed = _listed_attachments(data)
            attachments = Attachment.objects.filter(id__in=listed).order_by("created_at")
            for attachment in attachments.iterator(chunk_size=200):
                name = f"attachments/{attachment.id}/{_safe_name(attachment.filename)}"
                try:
                    stored = attachment.file.open("rb")
                except OSError:
                    continue
                with stored, archive.open(name, "w", force_zip64=True) as entry:
                    shutil.copyfileobj(stored, entry, COPY_CHUNK_BYTES)
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return spool


@transaction.atomic
def export_contact_zip(*, contact: Contact, actor: Membership | None) -> IO[bytes]:
    """The export as a zip (build_zip: `contact.json` and the attachments) in a temporary
    file the caller sends and closes. Raises PermissionDenied."""
    data = export_contact(contact=contact, actor=actor, form="zip")
    return build_zip(data)


@transaction.atomic
def export_for_customer_zip(*, contact: Contact) -> IO[bytes]:
    """The customer's own export (export_for_customer) as a zip with their attachments:
    `my-data.json` and `attachments/...`, in a temporary file the caller sends and
    closes."""
    data = export_for_customer(contact=contact, form="zip")
    return build_zip(data, json_name="my-data.json")


def _mentions(value: Any, addresses: set[str]) -> bool:
    text = json.dumps(value, default=str).lower()
    return any(address in text for address in addresses)


def _erase_contents(
    *, ticket_ids: list[Any], message_ids: list[Any], addresses: set[str]
) -> tuple[int, int]:
    """Empty the tickets (subject, custom fields) and the messages (bodies, headers,
    attachments; system events that name one of `addresses`), the raw mail and the
    outbox's copies of them, and rebuild the tickets' search documents. Returns how many
    messages and attachments were erased. Call inside a transaction."""
    now = timezone.now()
    attachments = Attachment.objects.filter(message_id__in=message_ids)
    files = [name for name in attachments.values_list("file", flat=True) if name]
    attachment_count = attachments.count()
    attachments.delete()
    storage = Attachment._meta.get_field("file").storage

    def delete_files() -> None:
        # Storage is not transactional: the files go once the erasure is committed.
        for name in files:
            storage.delete(name)

    transaction.on_commit(delete_files)

    outbound_ids = [
        outbound
        for outbound in Message.objects.filter(id__in=message_ids)
        .exclude(outbound_email=None)
        .values_list("outbound_email_id", flat=True)
        if outbound is not None
    ]
    erased_messages = (
        Message.objects.filter(id__in=message_ids)
        .exclude(kind=MessageKind.EVENT)
        .update(
            body_text="",
            body_html="",
            quoted_text="",
            email_subject="",
            email_to=[],
            email_cc=[],
            email_bcc=[],
            updated_at=now,
        )
    )
    # System events keep what changed, unless they name the person (a follower added).
    if addresses:
        for event in Message.objects.filter(id__in=message_ids, kind=MessageKind.EVENT):
            if _mentions(event.event, addresses):
                event.event = {"field": (event.event or {}).get("field"), "erased": True}
                event.save(update_fields=["event", "updated_at"])

    InboundEmail.objects.filter(
        Q(ticket_id__in=ticket_ids) | Q(ticket_message_id__in=message_ids)
    ).update(
        raw=b"",
        envelope_from="",
        envelope_to=[],
        header_recipients=[],
        reason="",
        updated_at=now,
    )
    # Agents' notification mails quote the messages of the tickets too.
    notification_keys = [
        f"notification:{notification_id}"
        for notification_id in Notification.objects.filter(ticket_id__in=ticket_ids).values_list(
            "id", flat=True
        )
    ]
    to_them = Q(id__in=outbound_ids) | Q(key__in=notification_keys)
    for address in addresses:
        # `to` holds "Name <address>" or the bare address: matched as text.
        to_them |= Q(to__icontains=address)
    OutboundEmail.objects.filter(to_them).update(
        to=[],
        cc=[],
        bcc=[],
        reply_to=[],
        subject=ERASED_SUBJECT,
        body_text="",
        body_html="",
        attachments=[],
        updated_at=now,
    )
    SatisfactionRating.objects.filter(ticket_id__in=ticket_ids).update(comment="", updated_at=now)
    TicketFieldValue.objects.filter(ticket_id__in=ticket_ids).delete()
    Ticket.objects.filter(id__in=ticket_ids).update(
        subject=ERASED_SUBJECT, last_message_snippet="", custom_fields={}, updated_at=now
    )
    for ticket in Ticket.objects.filter(id__in=ticket_ids).select_related("contact__company"):
        ticket_services.refresh_search_vector(ticket=ticket)
    # Copies kept by higher apps (webhook deliveries) are theirs to erase.
    send_tickets_erased(ticket_ids=ticket_ids)
    return erased_messages, attachment_count


@transaction.atomic
def erase_contact(*, contact: Contact, actor: Membership | None) -> dict[str, int]:
    """Remove the person (and their merged duplicates) from the help desk: the contact
    rows keep only an id and a placeholder address; their tickets keep their state and
    times but lose subject, bodies, custom fields and attachments; what they wrote on
    other tickets loses its text; ratings keep the score, not the comment; they follow
    nothing; the raw mail and the outbox copies are emptied; the search index is rebuilt.
    Their company link goes too, and the audit log's entries keep who did what but name
    them only as "erased contact #<id>". Returns counts of what was erased. Raises
    PermissionDenied (not an admin)."""
    if actor is not None:
        permissions.require(actor, Capability.HANDLE_PERSONAL_DATA)
    contact = Contact.objects.select_for_update().get(id=contact.id)
    people = _people(contact)
    ids = [person.id for person in people]
    addresses = {person.email.strip().lower() for person in people if person.email}
    ticket_ids = list(
        Ticket.objects.select_for_update().filter(contact_id__in=ids).values_list("id", flat=True)
    )
    message_ids = list(
        Message.objects.filter(
            Q(ticket_id__in=ticket_ids) | Q(author_contact_id__in=ids)
        ).values_list("id", flat=True)
    )
    SatisfactionRating.objects.filter(contact_id__in=ids).update(
        comment="", updated_at=timezone.now()
    )
    TicketFollower.objects.filter(contact_id__in=ids).delete()
    names = [person.name for person in people if person.name]
    for person in people:
        person.email = f"erased-{person.id}@erased.invalid"
        person.name = ERASED_NAME
        person.phone = ""
        person.notes = ""
        person.custom_fields = {}
        person.company = None  # a company of one would name them still
        person.save(
            update_fields=[
                "email",
                "name",
                "phone",
                "notes",
                "custom_fields",
                "company",
                "updated_at",
            ]
        )
    # The audit log keeps its entries (who exported, who changed what) without the person.
    scrubbed = audit.scrub_personal_values(
        emails=sorted(addresses), names=names, replacement=f"erased contact #{contact.id}"
    )
    erased_messages, attachment_count = _erase_contents(
        ticket_ids=ticket_ids, message_ids=message_ids, addresses=addresses
    )
    counts = {
        "contacts": len(people),
        "tickets": len(ticket_ids),
        "messages": erased_messages,
        "attachments": attachment_count,
        "audit_entries": scrubbed,
    }
    send_contacts_erased(contact_ids=ids)
    audit.record_audit_event(
        action=AuditAction.CONTACT_ERASED,
        actor=actor,
        target_type="contact",
        target_id=contact.id,
        details=counts,
    )
    return counts


RETENTION_BATCH = 200


def months_before(moment: datetime.datetime, months: int) -> datetime.datetime:
    """The same day and time `months` calendar months earlier (the month's last day when
    it is shorter: 31 March minus one month is 28 or 29 February)."""
    years, month_index = divmod(moment.month - 1 - months, 12)
    year, month = moment.year + years, month_index + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


@transaction.atomic
def apply_retention(*, now: datetime.datetime | None = None, limit: int = RETENTION_BATCH) -> int:
    """The tenant's retention setting: solved and closed tickets solved more than
    `retention_months` ago are anonymized (their contents erased as for a person's erasure;
    the records stay for statistics) or deleted, at most `limit` a run (the caller runs
    again while a full batch was done). Returns how many; the run is in the audit log."""
    settings = configuration.get_settings()
    months = settings.retention_months
    if not months:
        return 0
    cutoff = months_before(now or timezone.now(), months)
    due = Ticket.objects.filter(status__in=RESOLVED_STATUSES, solved_at__lt=cutoff)
    anonymize = settings.retention_action == WorkspaceSettingsRetentionAction.ANONYMIZE
    if anonymize:
        due = due.exclude(subject=ERASED_SUBJECT)
    ticket_ids = list(
        due.order_by("solved_at", "id")
        .select_for_update(skip_locked=True)
        .values_list("id", flat=True)[:limit]
    )
    if not ticket_ids:
        return 0
    message_ids = list(
        Message.objects.filter(ticket_id__in=ticket_ids).values_list("id", flat=True)
    )
    if anonymize:
        _erase_contents(ticket_ids=ticket_ids, message_ids=message_ids, addresses=set())
    else:
        # The outbox's copies and the raw mail go with the content; the files after commit.
        _erase_contents(ticket_ids=ticket_ids, message_ids=message_ids, addresses=set())
        Ticket.objects.filter(id__in=ticket_ids).delete()
    audit.record_audit_event(
        action=AuditAction.RETENTION_APPLIED,
        actor=None,
        target_type="tickets",
        target_label=f"{len(ticket_ids)} ticket(s) solved before {cutoff.date().isoformat()}",
        details={"action": settings.retention_action, "tickets": len(ticket_ids), "months": months},
    )
    return len(ticket_ids)
