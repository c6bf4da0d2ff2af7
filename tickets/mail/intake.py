"""Durable intake, the same for every channel: recipient -> tenant, then the raw bytes are
committed as an InboundEmail and processing is queued after commit."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import compat32

from django.db import IntegrityError, transaction

from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import InboundAddress
from tickets import tasks
from tickets.models import InboundEmail

_MESSAGE_ID = re.compile(r"<[^<>\s]+>")


@dataclass(frozen=True)
class Accepted:
    tenant_id: str
    email_id: str
    created: bool


def find_inbound_address(address: str) -> InboundAddress | None:
    """The tenant's address row for a recipient; plus-addressing (support+x@) maps to the base."""
    address = address.strip().strip("<>").lower()
    local, _, domain = address.partition("@")
    base = f"{local.split('+', 1)[0]}@{domain}"
    return InboundAddress.objects.filter(address__in={address, base}).first()


def read_message_id(raw: bytes) -> str:
    """The first <...> of the Message-ID header, or '' (cheap: headers only, compat32)."""
    headers = BytesHeaderParser(policy=compat32).parsebytes(raw)
    value = str(headers.get("Message-ID", "") or "")
    match = _MESSAGE_ID.search(value)
    return match.group(0)[:998] if match else ""


def store_inbound_email(
    *,
    raw: bytes,
    recipient: InboundAddress,
    envelope_from: str,
    envelope_to: list[str],
    channel: str,
) -> Accepted:
    """Commit the raw mail for the recipient's tenant; a redelivery returns the first row."""
    message_id = read_message_id(raw)
    digest = hashlib.sha256(raw).hexdigest()
    with tenant_context(recipient.tenant_id):
        lookup = {"message_id": message_id} if message_id else {"message_id": "", "sha256": digest}
        existing = InboundEmail.objects.filter(**lookup).only("id").first()
        if existing is not None:
            return Accepted(str(recipient.tenant_id), str(existing.id), created=False)
        try:
            with transaction.atomic():
                email = InboundEmail.objects.create(
                    mailbox_id=recipient.mailbox_id,
                    channel=channel,
                    envelope_from=envelope_from[:998],
                    envelope_to=envelope_to,
                    message_id=message_id,
                    sha256=digest,
                    size=len(raw),
                    raw=raw,
                )
        except IntegrityError:  # the same mail arrived concurrently on another path
            email = InboundEmail.objects.get(**lookup)
            return Accepted(str(recipient.tenant_id), str(email.id), created=False)
        tasks.process_inbound_email.delay_on_commit(
            tenant_id=str(recipient.tenant_id), email_id=str(email.id)
        )
    return Accepted(str(recipient.tenant_id), str(email.id), created=True)
