"""Durable intake, the same for every channel (SMTP, ESP webhook, IMAP, ingest_email):
find the tenant from the recipient, commit the raw bytes as an InboundEmail, and queue its
processing after the commit. A redelivered mail maps to the row already stored."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses

from django.db import IntegrityError, connection, transaction

from helpdesk.tenancy import permissions
from helpdesk.tenancy.context import tenant_context
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


def find_inbound_address(address: str) -> InboundAddress | None:
    """The tenant's address row for one recipient: the address itself when a mailbox has it,
    else its base without the plus part (support+t-abc@ -> support@)."""
    address = normalize_address(address)
    if "@" not in address:
        return None
    rows = {
        row.address: row
        for row in InboundAddress.objects.filter(address__in={address, base_address(address)})
    }
    return rows.get(address) or rows.get(base_address(address))


def help_desk_addresses(addresses: Iterable[str]) -> set[str]:
    """Those of these addresses that reach a mailbox of any tenant here (a plus form by its
    base too), in one query. Such an address is never copied on a ticket: our replies
    would land in that mailbox, another tenant's help desk or our own."""
    wanted = {normalize_address(a): a for a in addresses}
    if not wanted:
        return set()
    candidates = {*wanted, *(base_address(a) for a in wanted)}
    found = set(
        InboundAddress.objects.filter(address__in=candidates).values_list("address", flat=True)
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


def resolve_recipient(envelope_to: Iterable[str], raw: bytes) -> InboundAddress | None:
    """The first recipient a tenant owns: envelope first, then the mail's own headers."""
    for address in envelope_to:
        row = find_inbound_address(address)
        if row is not None:
            return row
    for address in header_recipients(parse_headers(raw)):
        row = find_inbound_address(address)
        if row is not None:
            return row
    return None


def read_message_id(headers: Message) -> str:
    """The first <...> of the Message-ID header, or ''."""
    match = _MESSAGE_ID.search(str(headers.get("Message-ID", "") or "").replace("\x00", ""))
    return match.group(0)[:998] if match else ""


def enqueue_processing(*, tenant_id: str, email_id: str) -> None:
    """Queue processing after commit. If the broker is down the row stays queued and the
    sweeper queues it again later, so a failure here is logged, never raised."""

    def send() -> None:
        try:
            mail_in_tasks.process_inbound_email.delay(tenant_id=tenant_id, email_id=email_id)
        except Exception:
            logger.exception("could not queue inbound email %s; the sweeper will retry", email_id)

    transaction.on_commit(send)


def store_inbound_email(
    *,
    raw: bytes,
    recipient: InboundAddress,
    envelope_from: str,
    envelope_to: list[str],
    channel: str,
    enqueue: bool = True,
) -> Accepted:
    """Commit the raw mail for the recipient's tenant; a redelivery returns the first row."""
    headers = parse_headers(raw)
    message_id = read_message_id(headers)
    digest = hashlib.sha256(raw).hexdigest()
    lookup = {"message_id": message_id} if message_id else {"message_id": "", "sha256": digest}
    tenant_id = str(recipient.tenant_id)
    # The insert is the transaction's last statement, so a conflict rolls back our own
    # transaction; inside a caller's (the IMAP poller stores a batch), a savepoint does.
    own = transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext()
    try:
        with own, tenant_context(tenant_id):
            existing = InboundEmail.objects.filter(**lookup).only("id").first()
            if existing is not None:
                return Accepted(tenant_id, str(existing.id), created=False)
            email = InboundEmail.objects.create(
                mailbox_id=recipient.mailbox_id,
                channel=channel,
                envelope_from=envelope_from.replace("\x00", "")[:998],
                envelope_to=[normalize_address(a) for a in envelope_to],
                header_recipients=header_recipients(headers),
                message_id=message_id,
                sha256=digest,
                size=len(raw),
                raw=raw,
            )
            if enqueue:
                enqueue_processing(tenant_id=tenant_id, email_id=str(email.id))
    except IntegrityError:
        # The same mail arrived at the same time on another path and committed first: read
        # the row that won.
        with tenant_context(tenant_id):
            email = InboundEmail.objects.only("id").get(**lookup)
        return Accepted(tenant_id, str(email.id), created=False)
    return Accepted(tenant_id, str(email.id), created=True)


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


def accept(
    *, raw: bytes, envelope_to: list[str], envelope_from: str, channel: str, enqueue: bool = True
) -> Accepted | None:
    """Store a mail for the tenant owning one of its recipients; None (and kept as
    unrouted) when no tenant owns any."""
    recipient = resolve_recipient(envelope_to, raw)
    if recipient is None:
        store_unrouted_email(
            raw=raw, envelope_to=envelope_to, channel=channel, reason="no tenant owns any recipient"
        )
        return None
    return store_inbound_email(
        raw=raw,
        recipient=recipient,
        envelope_from=envelope_from,
        envelope_to=envelope_to,
        channel=channel,
        enqueue=enqueue,
    )


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
