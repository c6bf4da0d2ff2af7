"""Durable intake, the same for every channel (SMTP, ESP webhook, IMAP, ingest_email):
find the tenant from the recipient, commit the raw bytes as an InboundEmail, and queue its
processing after the commit. A redelivered mail maps to the row already stored."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses
from typing import Any
from uuid import UUID

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from helpdesk.core.ids import new_id
from helpdesk.tenancy import permissions
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.context import execute_in_tenant, get_current_tenant_id, tenant_context
from helpdesk.tenancy.models import InboundAddress, Membership
from helpdesk.tenancy.permissions import Capability
from tickets.errors import InboundEmailNotRetryable
from tickets.mail_in import tasks as mail_in_tasks
from tickets.models import InboundEmail, InboundEmailStatus, UnroutedEmail

logger = logging.getLogger(__name__)

_MESSAGE_ID = re.compile(r"<[^<>\s]{1,900}>")
RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "To", "Cc")


@dataclass(frozen=True)
class Accepted:
    """Where a mail was stored. The ids are strings, the form the processing task takes as
    its arguments; code that processes the mail itself converts (`UUID(accepted.email_id)`
    for `services.process_inbound_email` and `mark_failed`), as ingest_email does."""

    tenant_id: str
    email_id: str
    created: bool


def normalize_address(address: str) -> str:
    # NUL bytes cannot be stored in PostgreSQL text or JSON; no real address has one.
    return address.replace("\x00", "").strip().strip("<>").strip().lower()


def base_address(address: str) -> str:
    """support+t-abc@x -> support@x (plus-addressing)."""
    local, _, domain = normalize_address(address).partition("@")
    return f"{local.split('+', 1)[0]}@{domain}"


def _candidates(address: str) -> list[str]:
    address = normalize_address(address)
    if "@" not in address:
        return []
    return list(dict.fromkeys([address, base_address(address)]))


def find_inbound_address(address: str) -> InboundAddress | None:
    """The tenant's address row for one recipient: the address itself when a mailbox has it,
    else its base without the plus part (support+t-abc@ -> support@). Cached (see
    tenancy.selectors.find_inbound_addresses)."""
    candidates = _candidates(address)
    rows = tenancy_selectors.find_inbound_addresses(candidates)
    return next((rows[c] for c in candidates if c in rows), None)


def _owned_by_each_tenant(addresses: Iterable[str]) -> list[InboundAddress]:
    """The row of the first of these addresses each tenant owns, in the order of the
    addresses, all looked up at once."""
    ordered = [_candidates(a) for a in addresses]
    rows = tenancy_selectors.find_inbound_addresses(c for each in ordered for c in each)
    found: dict[UUID, InboundAddress] = {}
    for candidates in ordered:
        row = next((rows[c] for c in candidates if c in rows), None)
        if row is not None:
            found.setdefault(row.tenant_id, row)
    return list(found.values())


def help_desk_addresses(addresses: Iterable[str]) -> set[str]:
    """Those of these addresses that reach a mailbox of any tenant here (a plus form by its
    base too), in one lookup. Such an address is never copied on a ticket: our replies
    would land in that mailbox, another tenant's help desk or our own."""
    wanted = {normalize_address(a): a for a in addresses}
    if not wanted:
        return set()
    found = set(
        tenancy_selectors.find_inbound_addresses({*wanted, *(base_address(a) for a in wanted)})
    )
    return {
        original
        for address, original in wanted.items()
        if address in found or base_address(address) in found
    }


def parse_headers(raw: bytes) -> Message:
    """The mail's headers, read once per mail here (cheap: compat32, the body left as is)."""
    return BytesHeaderParser(policy=compat32).parsebytes(raw)


def header_recipients(headers: Message) -> list[str]:
    """Delivered-To, X-Original-To, To and Cc addresses, in that order."""
    found: list[str] = []
    for name in RECIPIENT_HEADERS:
        values = [str(v) for v in (headers.get_all(name) or [])]
        for _, address in getaddresses(values):
            address = normalize_address(address)
            if "@" in address and address not in found:
                found.append(address)
    return found


def resolve_recipients(envelope_to: Iterable[str], raw: bytes) -> list[InboundAddress]:
    """The first envelope recipient each tenant owns (the envelope is whom the mail was
    delivered to here); when none is any tenant's, the first of the mail's own header
    recipients a tenant owns. Headers only name who else got the mail: another tenant in
    a Cc receives its own copy on its own way, and is never given one from here."""
    found = _owned_by_each_tenant(envelope_to)
    return found or _owned_by_each_tenant(header_recipients(parse_headers(raw)))[:1]


def read_message_id(headers: Message) -> str:
    """The first <...> of the Message-ID header, or ''."""
    match = _MESSAGE_ID.search(str(headers.get("Message-ID", "") or "").replace("\x00", ""))
    return match.group(0)[:998] if match else ""


WAKE_SECONDS = 10


def wake_key(tenant_id: str) -> str:
    return f"inbound-drain-wake:{tenant_id}"


def enqueue_processing(*, tenant_id: str, email_id: str = "") -> None:
    """After the commit, wake the tenant's drain (tasks.drain_inbound_emails), which claims
    queued rows itself: one publish per burst of mail, not one per mail. The wake-up is
    debounced by a Redis key the drain deletes before it claims, so mail committed after
    that claim wakes it again. If Redis or the broker is down the row stays queued and the
    sweeper wakes a drain later, so a failure here is logged, never raised."""

    def send() -> None:
        try:
            first = bool(cache.add(wake_key(tenant_id), 1, WAKE_SECONDS))
        except Exception:
            first = True  # no cache: publish anyway
        if not first:
            return  # a drain is already woken and has not claimed yet
        try:
            mail_in_tasks.drain_inbound_emails.delay(tenant_id=tenant_id)
        except Exception:
            logger.exception(
                "could not wake the inbound drain (%s); the sweeper will", email_id or tenant_id
            )

    transaction.on_commit(send)


def _insert_sql() -> str:
    """Insert unless stored already (ON CONFLICT) or unless the recipient row it was routed
    by no longer says so (a cached lookup gone stale): both return no id."""
    table = InboundEmail._meta.db_table
    addresses = InboundAddress._meta.db_table
    return (
        f"INSERT INTO {table} (id, tenant_id, created_at, updated_at, mailbox_id, channel,"  # noqa: S608 - names from the models
        " envelope_from, envelope_to, header_recipients, message_id, sha256, size, raw,"
        " status, reason, attempts)"
        " SELECT %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, %s, %s, %s, %s, %s, '', 0"
        f" WHERE EXISTS (SELECT 1 FROM {addresses} WHERE address = %s AND tenant_id = %s"
        " AND mailbox_id = %s)"
        " ON CONFLICT DO NOTHING RETURNING id"
    )


class StaleRecipient(Exception):
    """No mailbox has the address any more (it changed behind the services' back)."""


def store_inbound_email(
    *,
    raw: bytes,
    recipient: InboundAddress,
    envelope_from: str,
    envelope_to: list[str],
    channel: str,
    enqueue: bool = True,
    again: bool = False,
) -> Accepted:
    """Commit the raw mail for the recipient's tenant; a redelivery returns the first row.

    One `INSERT … ON CONFLICT DO NOTHING` (the unique Message-ID, or content digest without
    one): a redelivery, or the same mail arriving at the same time on another path, inserts
    nothing and the row that won is read. Raises StaleRecipient when no mailbox has the
    recipient's address any more."""
    headers = parse_headers(raw)
    message_id = read_message_id(headers)
    digest = hashlib.sha256(raw).hexdigest()
    lookup = {"message_id": message_id} if message_id else {"message_id": "", "sha256": digest}
    tenant_id = str(recipient.tenant_id)
    current = get_current_tenant_id()
    if current is not None and current != recipient.tenant_id:
        return _store_again(
            raw, recipient, envelope_from, envelope_to, channel, enqueue=enqueue, again=again
        )
    now = timezone.now()
    values: list[Any] = [
        new_id(),
        recipient.tenant_id,
        now,
        now,
        recipient.mailbox_id,
        channel,
        envelope_from.replace("\x00", "")[:998],
        json.dumps([normalize_address(a) for a in envelope_to]),
        json.dumps(header_recipients(headers)),
        message_id,
        digest,
        len(raw),
        raw,
        InboundEmailStatus.QUEUED,
        recipient.address,
        recipient.tenant_id,
        recipient.mailbox_id,
    ]
    # The tenant setting and the INSERT in one round trip, committed on their own (outside a
    # caller's transaction): BEGIN, the setting and COMMIT around it were half of intake's
    # PostgreSQL statements per mail.
    rows = execute_in_tenant(tenant_id, _insert_sql(), values)
    inserted = rows[0] if rows else None
    if inserted is None:
        with tenant_context(tenant_id):
            existing = InboundEmail.objects.only("id").filter(**lookup).first()
        if existing is not None:
            return Accepted(tenant_id, str(existing.id), created=False)
    elif enqueue:
        enqueue_processing(tenant_id=tenant_id, email_id=str(inserted[0]))
    if inserted is None:
        return _store_again(
            raw, recipient, envelope_from, envelope_to, channel, enqueue=enqueue, again=again
        )
    return Accepted(tenant_id, str(inserted[0]), created=True)


def _store_again(
    raw: bytes,
    recipient: InboundAddress,
    envelope_from: str,
    envelope_to: list[str],
    channel: str,
    *,
    enqueue: bool,
    again: bool,
) -> Accepted:
    """The cached recipient was stale: forget it and store by the database's row."""
    tenancy_selectors.forget_inbound_address(recipient.address)
    fresh = InboundAddress.objects.filter(address=recipient.address).first()
    if again or fresh is None:
        raise StaleRecipient(recipient.address)
    return store_inbound_email(
        raw=raw,
        recipient=fresh,
        envelope_from=envelope_from,
        envelope_to=envelope_to,
        channel=channel,
        enqueue=enqueue,
        again=True,
    )


@transaction.atomic
def store_unrouted_email(
    *, raw: bytes, envelope_to: list[str], channel: str, reason: str
) -> UnroutedEmail:
    """Keep mail no tenant owns (it reached us anyway) for platform staff."""
    headers = parse_headers(raw)
    return UnroutedEmail.objects.create(
        channel=channel,
        envelope_to=list(envelope_to),
        header_recipients=header_recipients(headers),
        subject=str(headers.get("Subject", "") or "").replace("\x00", "")[:998],
        raw=raw,
        reason=reason,
    )


def accept_for_each_tenant(
    *, raw: bytes, envelope_to: list[str], envelope_from: str, channel: str, enqueue: bool = True
) -> list[Accepted]:
    """Store a mail once for each tenant owning one of its envelope recipients, as the
    SMTP listener does (see resolve_recipients); none (and kept as unrouted) when no
    tenant owns any recipient. A copy stored before a retry is found again by its own
    dedupe."""
    for attempt in (1, 2):
        recipients = resolve_recipients(envelope_to, raw)
        if not recipients:
            break
        try:
            return [
                store_inbound_email(
                    raw=raw,
                    recipient=recipient,
                    envelope_from=envelope_from,
                    envelope_to=envelope_to,
                    channel=channel,
                    enqueue=enqueue,
                )
                for recipient in recipients
            ]
        except StaleRecipient:
            if attempt == 2:
                raise
            # Forgotten now: the next resolution reads the database.
    store_unrouted_email(
        raw=raw, envelope_to=envelope_to, channel=channel, reason="no tenant owns any recipient"
    )
    return []


def accept(
    *, raw: bytes, envelope_to: list[str], envelope_from: str, channel: str, enqueue: bool = True
) -> Accepted | None:
    """accept_for_each_tenant, for a caller that needs only the first tenant's copy."""
    stored = accept_for_each_tenant(
        raw=raw,
        envelope_to=envelope_to,
        envelope_from=envelope_from,
        channel=channel,
        enqueue=enqueue,
    )
    return stored[0] if stored else None


@transaction.atomic
def retry_inbound_email(*, email: InboundEmail, actor: Membership | None) -> InboundEmail:
    """Process a failed or rejected mail again (after a fix). Admins only (PermissionDenied).
    Raises InboundEmailNotRetryable."""
    permissions.require(actor, Capability.MANAGE_SETTINGS)
    if email.status not in {InboundEmailStatus.FAILED, InboundEmailStatus.REJECTED}:
        raise InboundEmailNotRetryable(email_id=str(email.id))
    email.status = InboundEmailStatus.QUEUED
    email.reason = ""
    email.processed_at = None
    email.save(update_fields=["status", "reason", "processed_at", "updated_at"])
    enqueue_processing(tenant_id=str(email.tenant_id), email_id=str(email.id))
    return email
