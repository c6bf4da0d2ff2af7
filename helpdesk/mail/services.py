"""The one path for outgoing mail: build, queue in the outbox, deliver, record.

`queue_email` stores an `OutboundEmail` (queued, with its Message-ID) in the caller's
transaction and sends it with `deliver_outbound_email` after the commit. Delivery is three
committed steps: claim it (queued -> sending, a compare-and-set update, so only one run ever
sends it), send it outside any transaction through Django's mail API (an anymail ESP, SMTP,
or the development outbox), record it (sent, with the ESP's id). A temporary failure puts it
back to queued and the task retries with backoff; when the retries run out the outbound
sweeper sends it later. A permanent failure is stored with its reason (failed). An email
left in sending (the worker died during the send) may have gone out: the sweeper marks it
unknown, never sends it twice.

Mail carrying a live account link (a password reset, an invitation) keeps its bodies only
until it is settled: the update that records it sent, failed or unknown also blanks them, so
the outbox and its backups never hold a working link. A retry still has them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import smtplib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import encoders
from email.mime.base import MIMEBase
from email.utils import formataddr
from typing import Any
from uuid import UUID

from anymail.exceptions import AnymailAPIError
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Case, F, TextField, Value, When
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string
from django.utils import timezone

from helpdesk.core.batching import collect_on_commit
from helpdesk.core.errors import TransientError, is_temporary
from helpdesk.core.ids import new_id
from helpdesk.mail import tasks
from helpdesk.mail.models import OutboundEmail, OutboundEmailKind, OutboundEmailStatus
from helpdesk.tenancy.context import execute_in_tenant, require_tenant_id, tenant_context

logger = logging.getLogger(__name__)

INTERRUPTED = (
    "the send was interrupted; the mail may or may not have reached the {whom},"
    " so it is not sent again by itself"
)
CUSTOMER_KINDS = {OutboundEmailKind.REPLY, OutboundEmailKind.AUTO_REPLY}
# Their bodies hold a link that takes over an account (set a password, join a tenant,
# see a customer's requests).
ACCOUNT_LINK_KINDS = {
    OutboundEmailKind.PASSWORD_RESET,
    OutboundEmailKind.INVITATION,
    OutboundEmailKind.PORTAL_SIGN_IN,
}


@dataclass
class Email:
    """One email as built: what the outbox stores and the backend sends."""

    kind: str
    key: str
    to: list[str]
    subject: str
    body_text: str
    from_email: str = ""
    body_html: str = ""
    cc: list[str] = field(default_factory=list)
    bcc: list[str] = field(default_factory=list)
    reply_to: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    message_id: str = ""
    attachments: list[dict[str, str]] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)


def render(template: str, context: dict[str, Any]) -> tuple[str, str, str]:
    """Subject (one line), text and HTML (empty when the template has no HTML part) of
    `templates/emails/<template>.{subject.txt,txt,html}`."""
    subject = " ".join(render_to_string(f"emails/{template}.subject.txt", context).split())
    text: str = render_to_string(f"emails/{template}.txt", context)
    html: str
    try:
        html = render_to_string(f"emails/{template}.html", context)
    except TemplateDoesNotExist:
        html = ""
    return subject, text, html


def build(
    *,
    kind: str,
    key: str,
    template: str,
    context: dict[str, Any],
    to: list[str],
    from_address: str = "",
    display_name: str = "",
    message_id_domain: str = "",
    cc: list[str] | None = None,
    bcc: list[str] | None = None,
    reply_to: list[str] | None = None,
    headers: dict[str, str] | None = None,
    message_id: str = "",
    subject: str = "",
    automatic: str = "",
    attachments: list[dict[str, str]] | None = None,
    tags: list[str] | None = None,
    metadata: dict[str, str] | None = None,
    rendered: tuple[str, str, str] | None = None,
) -> Email:
    """The one builder: a template under templates/emails/ rendered to subject, text and
    HTML, with the From display name, our Message-ID (`<kind-id@domain>` unless given),
    Reply-To, threading and `Auto-Submitted` headers (`automatic`: "auto-replied" for
    answers to a mail, "auto-generated" for mail of our own). `subject` overrides the
    template's subject. `rendered`: the template's (subject, text, HTML) for `context`,
    when the caller has them already (a batch renders what its emails share once)."""
    rendered_subject, text, html = rendered if rendered is not None else render(template, context)
    address = from_address or settings.DEFAULT_FROM_EMAIL
    domain = message_id_domain or address.rpartition("@")[2] or settings.HELPDESK_BASE_DOMAIN
    all_headers = {
        "Message-ID": message_id or f"<{kind.replace('_', '-')}-{new_id()}@{domain}>",
        **(headers or {}),
    }
    if automatic:
        all_headers["Auto-Submitted"] = automatic
        all_headers["X-Auto-Response-Suppress"] = "All"
    return Email(
        kind=kind,
        key=key,
        to=to,
        subject=" ".join((subject or rendered_subject).split()),
        body_text=text,
        body_html=html,
        from_email=formataddr((display_name, address)) if display_name else address,
        cc=cc or [],
        bcc=bcc or [],
        reply_to=reply_to or [],
        headers=all_headers,
        message_id=all_headers["Message-ID"],
        attachments=attachments or [],
        tags=tags or [],
        metadata=metadata or {},
    )


@transaction.atomic(savepoint=False)
def queue_email(
    email: Email, *, status: str = OutboundEmailStatus.QUEUED, error: str = "", deliver: bool = True
) -> OutboundEmail:
    """Store the email in the outbox in the caller's transaction (the current tenant's) and
    send it after the commit. Idempotent: an email already queued under the same key is
    returned as it is, never queued twice. `deliver=False` leaves a queued email to the
    sweeper (a data migration has no broker to enqueue on)."""
    key = email.key[:255]
    existing = OutboundEmail.objects.filter(key=key).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            outbound = OutboundEmail.objects.create(
                key=key,
                kind=email.kind,
                from_email=email.from_email,
                to=email.to,
                cc=email.cc,
                bcc=email.bcc,
                reply_to=email.reply_to,
                subject=email.subject[:998],
                body_text=email.body_text,
                body_html=email.body_html,
                headers=email.headers,
                message_id=email.message_id,
                attachments=email.attachments,
                tags=email.tags,
                metadata=email.metadata,
                status=status,
                error=error[:2000],
            )
    except IntegrityError:
        # Queued by a concurrent run under the same key between the check and the insert.
        return OutboundEmail.objects.get(key=key)
    if deliver and status == OutboundEmailStatus.QUEUED:
        tenant_id = str(outbound.tenant_id)
        if getattr(_delivery, "batched", False):
            collect_on_commit(
                ("helpdesk.mail.deliver", tenant_id),
                str(outbound.id),
                lambda ids: enqueue_delivery(tenant_id=tenant_id, outbound_email_ids=ids),
            )
        else:
            tasks.deliver_outbound_email.delay_on_commit(
                tenant_id=tenant_id, outbound_email_id=str(outbound.id)
            )
    return outbound


def queue_emails(emails: list[tuple[Email, str, str]]) -> list[OutboundEmail]:
    """queue_email for many (email, status, error) at once, in one insert: a batch's
    acknowledgements. Idempotent alike: an email whose key is already in the outbox is
    returned as it is (the insert's `ON CONFLICT` gives its row back, unchanged)."""
    if not emails:
        return []
    tenant_id = require_tenant_id()
    rows = []
    for email, status, error in emails:
        # Every field of the built email is a column of the outbox, as queue_email stores it.
        values = {f.name: getattr(email, f.name) for f in dataclasses.fields(email)}
        values.update(key=email.key[:255], subject=email.subject[:998])
        rows.append(OutboundEmail(tenant_id=tenant_id, **values, status=status, error=error[:2000]))
    OutboundEmail.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["tenant", "key"], update_fields=["key"]
    )
    tenant = str(tenant_id)
    for outbound in rows:
        if outbound.status != OutboundEmailStatus.QUEUED:
            continue
        if getattr(_delivery, "batched", False):
            collect_on_commit(
                ("helpdesk.mail.deliver", tenant),
                str(outbound.id),
                lambda ids: enqueue_delivery(tenant_id=tenant, outbound_email_ids=ids),
            )
        else:
            tasks.deliver_outbound_email.delay_on_commit(
                tenant_id=tenant, outbound_email_id=str(outbound.id)
            )
    return rows


_delivery = threading.local()


@contextlib.contextmanager
def batched_delivery() -> Iterator[None]:
    """Email queued in the block is sent after the commit by one task per
    DELIVERIES_PER_TASK over one connection (deliver_outbound_emails), not a task each:
    for a transaction that queues many (a batch of inbound mail's acknowledgements)."""
    previous = getattr(_delivery, "batched", False)
    _delivery.batched = True
    try:
        yield
    finally:
        _delivery.batched = previous


DELIVERIES_PER_TASK = 100


def enqueue_delivery(*, tenant_id: str, outbound_email_ids: list[str]) -> None:
    """After the commit: one email, its own task (deliver_outbound_email); the many of one
    transaction (a batch of inbound mail acknowledged), a task per DELIVERIES_PER_TASK that
    sends them over one connection (deliver_outbound_emails)."""
    ids = list(dict.fromkeys(outbound_email_ids))
    if len(ids) == 1:
        tasks.deliver_outbound_email.delay(tenant_id=tenant_id, outbound_email_id=ids[0])
        return
    for start in range(0, len(ids), DELIVERIES_PER_TASK):
        tasks.deliver_outbound_emails.delay(
            tenant_id=tenant_id, outbound_email_ids=ids[start : start + DELIVERIES_PER_TASK]
        )


def send_platform_email(email: Email) -> bool:
    """Mail of no tenant (a platform staff member's password reset): built by the same
    builder and sent through the same backend at once, since the outbox is tenant-owned."""
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=email.body_text,
        from_email=email.from_email or settings.DEFAULT_FROM_EMAIL,
        to=email.to,
        headers=email.headers,
    )
    if email.body_html:
        message.attach_alternative(email.body_html, "text/html")
    return send(message)


def as_message(outbound: OutboundEmail) -> EmailMultiAlternatives:
    """The stored email as Django's mail API sends it."""
    email = EmailMultiAlternatives(
        subject=outbound.subject,
        body=outbound.body_text,
        from_email=outbound.from_email or settings.DEFAULT_FROM_EMAIL,
        to=list(outbound.to),
        cc=list(outbound.cc),
        bcc=list(outbound.bcc),
        reply_to=list(outbound.reply_to),
        headers=dict(outbound.headers),
    )
    if outbound.body_html:
        email.attach_alternative(outbound.body_html, "text/html")
    for attachment in outbound.attachments:
        with default_storage.open(attachment["path"], "rb") as handle:
            payload = handle.read()
        if attachment.get("content_id"):
            email.attach(_inline_part(attachment, payload))
        else:
            email.attach(attachment["filename"], payload, attachment["content_type"])
    # anymail: ESPs that support them send these back with delivery-status events.
    email.metadata = {  # type: ignore[attr-defined]
        **outbound.metadata,
        "tenant_id": str(outbound.tenant_id),
        "outbound_email_id": str(outbound.id),
    }
    email.tags = list(outbound.tags)  # type: ignore[attr-defined]
    return email


def _inline_part(attachment: dict[str, str], payload: bytes) -> MIMEBase:
    """An image the HTML part shows by its `cid:` address (a picture pasted in a reply)."""
    maintype, _, subtype = attachment["content_type"].partition("/")
    part = MIMEBase(maintype or "application", subtype or "octet-stream")
    part.set_payload(payload)
    encoders.encode_base64(part)
    part.add_header("Content-ID", f"<{attachment['content_id']}>")
    part.add_header("Content-Disposition", "inline", filename=attachment["filename"])
    return part


def claim(outbound_email_id: UUID) -> EmailMultiAlternatives | None:
    """Claim one queued email of the current tenant for sending (queued -> sending,
    committed with the caller's transaction) and load it; None when another run claimed it
    first or it is no longer queued.

    The caller commits the claim before it sends, so that a second run, the sweeper or a
    redelivered task never sends it again. An email that cannot be loaded (an attachment
    gone) is failed; an outage rolls the claim back."""
    tenant_id = str(require_tenant_id())
    outbound = _record_and_claim(tenant_id, {}, outbound_email_id)
    if outbound is None:
        return None  # the compare-and-set lost: another run has it, or it went out
    return _loaded(tenant_id, outbound)


def send(email: EmailMultiAlternatives) -> bool:
    """Hand the email to the mail backend (ESP, SMTP, outbox); no database work, so it runs
    outside any transaction. True when the backend took it."""
    return bool(email.send())


def is_temporary_send_error(error: BaseException) -> bool:
    """A send failure that a later attempt can get past: an outage (network, DNS), an SMTP
    4xx or lost connection, an ESP that answers 429 or 5xx. Anything else (recipients
    refused, the ESP refusing our request or credentials) fails the email."""
    if is_temporary(error):
        return True
    if isinstance(error, smtplib.SMTPServerDisconnected | smtplib.SMTPConnectError):
        return True
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _ in error.recipients.values())
    if isinstance(error, smtplib.SMTPResponseException):
        return 400 <= error.smtp_code < 500
    if isinstance(error, AnymailAPIError):
        status = getattr(error, "status_code", None)
        return status is None or status == 429 or status >= 500
    return False


# How long temporary refusals are retried (a full mailbox, an ESP's 429): RFC 5321 gives
# mail four to five days; a reply that would arrive later is better known failed.
GIVE_UP_AFTER = timedelta(days=5)


def release(*, outbound_email_id: UUID, error: BaseException) -> str:
    """After a failed send: back to queued for a temporary failure (the task retries, and
    after its last retry the sweeper sends it later) until the email is GIVE_UP_AFTER old,
    failed with the reason otherwise. Returns the new status."""
    temporary = is_temporary_send_error(error)
    reason = _reason(error)
    if temporary and _queued_since(outbound_email_id) < timezone.now() - GIVE_UP_AFTER:
        temporary = False
        reason = f"still refused after {GIVE_UP_AFTER.days} days: {reason}"
    status = OutboundEmailStatus.QUEUED if temporary else OutboundEmailStatus.FAILED
    if temporary:
        reason = f"not sent yet, will retry: {reason}"[:2000]
    else:
        logger.warning("giving up on outbound email %s: %s", outbound_email_id, reason)
    _set_status(outbound_email_id, OutboundEmailStatus.SENDING, status, reason)
    return status


def _queued_since(outbound_email_id: UUID) -> datetime:
    created = (
        OutboundEmail.objects.filter(id=outbound_email_id)
        .values_list("created_at", flat=True)
        .first()
    )
    return created or timezone.now()


def is_sendable_address(address: str) -> bool:
    """Whether an address can go in a header we send (Django's own check of an address):
    mail brings addresses such as `a@b..c` or `@c`, which would fail every mail they are
    copied on."""
    try:
        validate_email(address)
    except ValidationError:
        return False
    return True


def record_sent(*, outbound_email_id: UUID, provider_message_id: str) -> bool:
    """The backend took the email: sending -> sent, with the ESP's id for delivery-status
    events. Also settles an email the sweeper already marked unknown."""
    now = timezone.now()
    return bool(
        OutboundEmail.objects.filter(
            id=outbound_email_id,
            status__in=[OutboundEmailStatus.SENDING, OutboundEmailStatus.UNKNOWN],
        ).update(
            status=OutboundEmailStatus.SENT,
            error="",
            provider_message_id=provider_message_id[:255],
            sent_at=now,
            updated_at=now,
            **_settled_bodies(),
        )
    )


def provider_message_id(email: EmailMultiAlternatives) -> str:
    status = getattr(email, "anymail_status", None)
    return (getattr(status, "message_id", None) or "")[:255]


def deliver(*, tenant_id: str, outbound_email_id: UUID, last_attempt: bool) -> str | None:
    """Send one queued email: claim (committed), send, record, each one statement committed
    on its own (`_record_and_claim`). Returns the status it left, None when there was
    nothing to send.

    Raises TransientError after a temporary failure unless this is the last attempt (the
    email is queued again either way, for the retry or the sweeper)."""
    outbound = _record_and_claim(tenant_id, {}, outbound_email_id)
    if outbound is None:
        return None  # the compare-and-set lost: another run has it, or it went out
    email = _loaded(tenant_id, outbound)
    if email is None:
        return OutboundEmailStatus.FAILED
    try:
        sent = send(email)
    except Exception as error:
        with tenant_context(tenant_id):
            status = release(outbound_email_id=outbound_email_id, error=error)
        if status == OutboundEmailStatus.QUEUED and not last_attempt:
            raise TransientError(f"{type(error).__name__}: {error}") from error
        return status
    if not sent:
        with tenant_context(tenant_id):
            return release(
                outbound_email_id=outbound_email_id,
                error=RuntimeError("the mail backend sent nothing"),
            )
    just_sent = {outbound_email_id: provider_message_id(email)}
    try:
        _record_and_claim(tenant_id, just_sent, None)
    except Exception as error:
        if not is_temporary(error):
            raise
        # It went out; only the record failed (the database is down). Record it later;
        # retrying this task would find it claimed and do nothing.
        _record_later(tenant_id, just_sent, error)
    return OutboundEmailStatus.SENT


def mark_interrupted_sends(*, older_than: timedelta) -> int:
    """Emails claimed for sending longer ago than any send takes, never recorded as sent or
    failed: the worker died during the send, which may or may not have reached the
    recipient. They become unknown with a note saying so (the ESP's delivery events settle
    them when they come); sending them again could give the recipient two copies."""
    stale = OutboundEmail.objects.filter(
        status=OutboundEmailStatus.SENDING, updated_at__lt=timezone.now() - older_than
    )
    now = timezone.now()
    customer = stale.filter(kind__in=CUSTOMER_KINDS).update(
        status=OutboundEmailStatus.UNKNOWN,
        error=INTERRUPTED.format(whom="customer"),
        updated_at=now,
    )
    others = stale.update(
        status=OutboundEmailStatus.UNKNOWN,
        error=INTERRUPTED.format(whom="recipient"),
        updated_at=now,
        **_settled_bodies(),
    )
    return customer + others


def list_stale_queued(*, older_than: timedelta, limit: int = 1000) -> list[UUID]:
    """Queued emails untouched for `older_than` (their task was lost), oldest first; touched
    now so the next sweep does not queue them again while they wait."""
    ids = list(
        OutboundEmail.objects.filter(
            status=OutboundEmailStatus.QUEUED, updated_at__lt=timezone.now() - older_than
        )
        .order_by("updated_at")
        .values_list("id", flat=True)[:limit]
    )
    OutboundEmail.objects.filter(id__in=ids, status=OutboundEmailStatus.QUEUED).update(
        updated_at=timezone.now()
    )
    return ids


def record_delivery_event(
    *, outbound: OutboundEmail, status: str, reason: str = ""
) -> OutboundEmail:
    """A delivery-status event from the ESP: delivered, or failed with the reason. A failed
    email stays failed whatever comes after: each event is one conditional UPDATE of the
    row as it is now (never a save of a copy read earlier), so a late "delivered" racing a
    bounce cannot overwrite it. `outbound` is refreshed to the stored state."""
    rows = OutboundEmail.objects.filter(id=outbound.id)
    now = timezone.now()
    if status == OutboundEmailStatus.FAILED:
        rows.update(
            status=OutboundEmailStatus.FAILED,
            error=(reason or "rejected by the provider")[:2000],
            updated_at=now,
            **_settled_bodies(),
        )
    else:
        rows.exclude(status=OutboundEmailStatus.FAILED).update(status=status, updated_at=now)
    outbound.refresh_from_db(fields=["status", "error", "updated_at"])
    return outbound


def _set_status(outbound_email_id: UUID, expected: str, status: str, reason: str) -> None:
    settled = _settled_bodies() if status != OutboundEmailStatus.QUEUED else {}
    OutboundEmail.objects.filter(id=outbound_email_id, status=expected).update(
        status=status, error=reason, updated_at=timezone.now(), **settled
    )


def _settled_bodies() -> dict[str, Any]:
    """Update values for an email that will not be sent again by itself: the bodies of a
    password reset or an invitation become empty (its subject, recipients and Message-ID
    stay for the record), those of any other kind are kept."""
    return {
        name: Case(
            When(kind__in=ACCOUNT_LINK_KINDS, then=Value("")),
            default=F(name),
            output_field=TextField(),
        )
        for name in ("body_text", "body_html")
    }


def _reason(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:2000]


def deliver_many(
    *, tenant_id: str, outbound_email_ids: list[UUID], last_attempt: bool
) -> dict[UUID, str]:
    """`deliver` for many emails over one connection to the mail backend, opened at the
    first email claimed. Each email is claimed (queued -> sending) by the statement that
    records the one before it sent, committed before the send (`_record_and_claim`: one
    round trip an email), so none is ever sent twice and a crash leaves at most one in
    sending (the sweeper marks it unknown). Returns the status each claimed email was left
    in.

    A temporary failure of one email puts it back to queued and the others go on; a backend
    that cannot be reached stops the run (the rest stay queued). Then TransientError is
    raised (unless last_attempt) and the retry sends only those still queued."""
    outcome: dict[UUID, str] = {}
    temporary: BaseException | None = None
    connection: Any = None
    pending = sorted(set(outbound_email_ids))
    position = 0
    just_sent: dict[UUID, str] = {}
    try:
        while True:
            outbound = None
            # The next email still queued; one claimed or sent by another run meanwhile is
            # passed over (a statement each: rare, a redelivered task's).
            while outbound is None and (just_sent or position < len(pending)):
                claim_id = pending[position] if position < len(pending) else None
                position += 1
                try:
                    outbound = _record_and_claim(tenant_id, just_sent, claim_id)
                except Exception as error:
                    if not is_temporary(error) or not just_sent:
                        raise
                    _record_later(tenant_id, just_sent, error)  # sent; the claim rolled back
                    raise
                outcome.update(dict.fromkeys(just_sent, OutboundEmailStatus.SENT))
                just_sent = {}
            if outbound is None:
                break
            outbound_email_id = outbound.id
            email = _loaded(tenant_id, outbound)
            if email is None:
                outcome[outbound_email_id] = OutboundEmailStatus.FAILED
                continue
            if connection is None:
                try:
                    connection = get_connection()
                    connection.open()
                except Exception as error:
                    connection = None
                    with tenant_context(tenant_id):
                        outcome[outbound_email_id] = release(
                            outbound_email_id=outbound_email_id, error=error
                        )
                    if outcome[outbound_email_id] == OutboundEmailStatus.QUEUED:
                        temporary = error
                    break
            email.connection = connection
            try:
                sent = send(email)
            except Exception as error:
                with tenant_context(tenant_id):
                    outcome[outbound_email_id] = release(
                        outbound_email_id=outbound_email_id, error=error
                    )
                if outcome[outbound_email_id] == OutboundEmailStatus.QUEUED:
                    temporary = error
                continue
            if not sent:
                with tenant_context(tenant_id):
                    outcome[outbound_email_id] = release(
                        outbound_email_id=outbound_email_id,
                        error=RuntimeError("the mail backend sent nothing"),
                    )
                continue
            just_sent = {outbound_email_id: provider_message_id(email)}
    finally:
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.close()
    if temporary is not None and not last_attempt:
        raise TransientError(f"{type(temporary).__name__}: {temporary}") from temporary
    return outcome


# Two data-modifying steps in one statement, so one round trip an email: `recorded` records
# the emails just sent (sending, or unknown if the sweeper got there first -> sent, with the
# ESP's id; the bodies of account-link mail blanked, as _settled_bodies does), `claimed`
# claims the next one if it is still queued (a compare-and-set: queued -> sending) and
# returns what sending it needs (_SENDABLE, in that order).
_RECORD_AND_CLAIM = """
WITH recorded AS (
    UPDATE mail_outboundemail AS o
    SET status = 'sent', error = '', provider_message_id = v.provider_id, sent_at = %s,
        updated_at = %s,
        body_text = CASE WHEN o.kind = ANY(%s::text[]) THEN '' ELSE o.body_text END,
        body_html = CASE WHEN o.kind = ANY(%s::text[]) THEN '' ELSE o.body_html END
    FROM unnest(%s::uuid[], %s::text[]) AS v(id, provider_id)
    WHERE o.tenant_id = %s AND o.id = v.id AND o.status IN ('sending', 'unknown')
), claimed AS (
    UPDATE mail_outboundemail AS o
    SET status = 'sending', attempts = o.attempts + 1, updated_at = %s
    WHERE o.tenant_id = %s AND o.id = %s::uuid AND o.status = 'queued'
    RETURNING o.id, o.tenant_id, o.from_email, o.to::text, o.cc::text, o.bcc::text,
        o.reply_to::text, o.subject, o.body_text, o.body_html, o.headers::text,
        o.attachments::text, o.tags::text, o.metadata::text
)
SELECT * FROM claimed
"""
_SENDABLE = (
    "id",
    "tenant_id",
    "from_email",
    "to",
    "cc",
    "bcc",
    "reply_to",
    "subject",
    "body_text",
    "body_html",
    "headers",
    "attachments",
    "tags",
    "metadata",
)
_JSON_COLUMNS = ("to", "cc", "bcc", "reply_to", "headers", "attachments", "tags", "metadata")


def _record_and_claim(
    tenant_id: str, sent: dict[UUID, str], claim: UUID | None
) -> OutboundEmail | None:
    """Record `sent` (outbound email id -> the ESP's id) and claim `claim` if it is still
    queued, in one statement committed on its own; the claimed email as stored, None when
    it was not queued (another run has it, or it went out) or there was none to claim."""
    now = timezone.now()
    kinds = sorted(ACCOUNT_LINK_KINDS)
    rows = execute_in_tenant(
        tenant_id,
        _RECORD_AND_CLAIM,
        [
            now,
            now,
            kinds,
            kinds,
            [str(i) for i in sent],
            [provider_id[:255] for provider_id in sent.values()],
            tenant_id,
            now,
            tenant_id,
            str(claim) if claim is not None else None,
        ],
    )
    if not rows:
        return None
    values = dict(zip(_SENDABLE, rows[0], strict=True))
    for name in _JSON_COLUMNS:
        values[name] = json.loads(values[name])
    return OutboundEmail(**values)


def _loaded(tenant_id: str, outbound: OutboundEmail) -> EmailMultiAlternatives | None:
    """The claimed email as Django's mail API sends it; None when it cannot be loaded (an
    attachment gone), which fails it. An outage raises (it stays sending: never sent twice)."""
    try:
        return as_message(outbound)
    except Exception as error:
        if is_temporary(error):
            raise
        logger.exception("outbound email %s cannot be sent", outbound.id)
        with tenant_context(tenant_id):
            _set_status(
                outbound.id,
                OutboundEmailStatus.SENDING,
                OutboundEmailStatus.FAILED,
                _reason(error),
            )
        return None


def _record_later(tenant_id: str, sent: dict[UUID, str], error: BaseException) -> None:
    """Sent, but the record failed (the database is down): a late record for each."""
    logger.warning("%d outbound emails sent but not recorded yet: %r", len(sent), error)
    for outbound_email_id, provider_id in sent.items():
        tasks.record_outbound_email_sent.apply_async(
            kwargs={
                "tenant_id": tenant_id,
                "outbound_email_id": str(outbound_email_id),
                "provider_message_id": provider_id,
            },
            countdown=10,
        )
