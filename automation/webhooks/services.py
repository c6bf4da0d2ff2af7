"""Outgoing webhooks. Invariants: only admins change webhooks, and each change is in the
audit log; a target must be a public address unless the operator allows private ones
(automation.webhooks.sender); every delivery is a row queued after the change commits,
never sent inside the transaction that caused it; an event reaches a webhook at most once
as a row (`key`), and a row is sent by one attempt at a time (claimed, committed, then
sent); a webhook failing HELPDESK_WEBHOOK_DISABLE_AFTER_FAILURES attempts in a row is
disabled and the admins are told by mail.

How events arrive: receivers and the SLA clocks call `collect_event` inside the change's
transaction (a cached check, nothing queued for a tenant whose webhooks do not want it);
the transaction's events go to one `queue_webhook_events` task after the commit, which
writes a delivery per event and webhook and queues one `deliver_webhook` task for each.
Retries back off exponentially for a day: short waits are task countdowns, longer ones a
due time on the row that the sweeper picks up (a countdown must stay under the broker's
visibility timeout).
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import logging
import secrets
from typing import Any
from uuid import UUID, uuid4

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from automation.errors import InvalidWebhook, WebhookTargetRefused
from automation.models import (
    SUBSCRIBABLE_WEBHOOK_EVENTS,
    Webhook,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEvent,
)
from automation.webhooks import payloads, selectors, sender, tasks
from helpdesk.core import crypto
from helpdesk.core.batching import collect_on_commit
from helpdesk.mail import services as mail
from helpdesk.mail.models import OutboundEmailKind
from helpdesk.tenancy import audit, permissions
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.context import require_tenant_id, tenant_context
from helpdesk.tenancy.models import AuditAction, Membership
from helpdesk.tenancy.permissions import Capability
from tickets.models import Message, MessageKind, SatisfactionRating, TicketStatus

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Helpdesk-Signature"
RETRY_FOR = datetime.timedelta(days=1)
FIRST_RETRY_SECONDS = 30
LONGEST_WAIT_SECONDS = 4 * 3600
# Retries waiting up to this long are task countdowns; longer ones wait for the sweeper.
COUNTDOWN_UP_TO_SECONDS = 900
# A delivery claimed this long ago and never recorded (its worker died mid-send) is sent
# again: longer than any attempt takes (the task's time limit).
SENDING_TIMEOUT = datetime.timedelta(minutes=10)
# How far back a reply or customer message is looked for when its ticket reports one.
MESSAGE_WINDOW = datetime.timedelta(minutes=10)
MAX_DESCRIPTION = 200

# What each ticket_changed reason may mean to webhooks.
MESSAGE_REASONS = {"customer_message", "replied"}


def new_secret() -> str:
    return secrets.token_hex(32)


def sign(body: bytes, secret: str) -> str:
    """The signature header's value: `sha256=` and the hex HMAC-SHA256 of the body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def encode(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent (and signed) for a payload."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def _drop_cache() -> None:
    key = selectors.wanted_events_key()
    transaction.on_commit(lambda: cache.delete(key))
    cache.delete(key)


def _clean_events(events: Any) -> list[str]:
    if not isinstance(events, list | tuple) or not events:
        raise InvalidWebhook(
            f"Choose at least one event: {', '.join(SUBSCRIBABLE_WEBHOOK_EVENTS)}.",
        )
    unknown = [str(event)[:60] for event in events if event not in SUBSCRIBABLE_WEBHOOK_EVENTS]
    if unknown:
        raise InvalidWebhook(
            f"{unknown[0]!r} is not an event; the events are"
            f" {', '.join(SUBSCRIBABLE_WEBHOOK_EVENTS)}."
        )
    return [str(event) for event in SUBSCRIBABLE_WEBHOOK_EVENTS if event in events]


def _clean_description(description: Any) -> str:
    text = str(description or "").strip()
    if len(text) > MAX_DESCRIPTION:
        raise InvalidWebhook(f"The description is at most {MAX_DESCRIPTION} characters.")
    return text


@transaction.atomic
def create_webhook(
    *, actor: Membership | None, url: str, events: list[str], description: str = ""
) -> tuple[Webhook, str]:
    """A new active webhook; returns it and its signing secret, which is shown this once.
    Raises PermissionDenied (not an admin), InvalidWebhook (the URL or the events),
    WebhookTargetRefused (a loopback or private target)."""
    if actor is not None:
        permissions.require(actor, Capability.MANAGE_SETTINGS)
    clean_events = _clean_events(events)
    clean_description = _clean_description(description)
    clean_url = sender.check_url(url)
    secret = new_secret()
    webhook = Webhook.objects.create(
        url=clean_url,
        events=clean_events,
        description=clean_description,
        secret_encrypted=crypto.encrypt(secret),
        created_by=actor,
    )
    audit.record_audit_event(
        action=AuditAction.WEBHOOK_CREATED,
        actor=actor,
        target_type="webhook",
        target_id=webhook.id,
        target_label=webhook.url,
        details={"events": webhook.events},
    )
    _drop_cache()
    return webhook, secret


@transaction.atomic
def update_webhook(
    *,
    webhook: Webhook,
    actor: Membership | None,
    url: str | None = None,
    events: list[str] | None = None,
    description: str | None = None,
    is_active: bool | None = None,
) -> Webhook:
    """Change a webhook. Turning a disabled one on again starts its failure count afresh.
    Raises PermissionDenied, InvalidWebhook, WebhookTargetRefused, WebhookNotFound."""
    if actor is not None:
        permissions.require(actor, Capability.MANAGE_SETTINGS)
    webhook = selectors.list_webhooks().select_for_update().get(id=webhook.id)
    changed: dict[str, Any] = {}
    if url is not None and url.strip() != webhook.url:
        webhook.url = sender.check_url(url)
        changed["url"] = webhook.url
    if events is not None:
        clean = _clean_events(events)
        if clean != webhook.events:
            webhook.events = clean
            changed["events"] = clean
    if description is not None:
        clean_description = _clean_description(description)
        if clean_description != webhook.description:
            webhook.description = clean_description
            changed["description"] = clean_description
    if is_active is not None and is_active != webhook.is_active:
        webhook.is_active = is_active
        changed["is_active"] = is_active
        if is_active:
            webhook.consecutive_failures = 0
            webhook.disabled_reason = ""
            webhook.disabled_at = None
    if not changed:
        return webhook
    webhook.save()
    audit.record_audit_event(
        action=AuditAction.WEBHOOK_UPDATED,
        actor=actor,
        target_type="webhook",
        target_id=webhook.id,
        target_label=webhook.url,
        details=changed,
    )
    _drop_cache()
    return webhook


@transaction.atomic
def rotate_webhook_secret(*, webhook: Webhook, actor: Membership | None) -> str:
    """A new signing secret (shown once); deliveries from now on are signed with it.
    Raises PermissionDenied."""
    if actor is not None:
        permissions.require(actor, Capability.MANAGE_SETTINGS)
    secret = new_secret()
    Webhook.objects.filter(id=webhook.id).update(
        secret_encrypted=crypto.encrypt(secret), updated_at=timezone.now()
    )
    audit.record_audit_event(
        action=AuditAction.WEBHOOK_UPDATED,
        actor=actor,
        target_type="webhook",
        target_id=webhook.id,
        target_label=webhook.url,
        details={"secret": "rotated"},
    )
    return secret


@transaction.atomic
def delete_webhook(*, webhook: Webhook, actor: Membership | None) -> None:
    """Delete the webhook and its delivery log. Raises PermissionDenied."""
    if actor is not None:
        permissions.require(actor, Capability.MANAGE_SETTINGS)
    audit.record_audit_event(
        action=AuditAction.WEBHOOK_DELETED,
        actor=actor,
        target_type="webhook",
        target_id=webhook.id,
        target_label=webhook.url,
    )
    webhook.delete()
    _drop_cache()


@transaction.atomic
def send_test(*, webhook: Webhook, actor: Membership | None) -> WebhookDelivery:
    """Queue a `webhook.test` delivery to the webhook (active or not), sent after the
    commit; its outcome shows in the delivery log. Raises PermissionDenied."""
    if actor is not None:
        permissions.require(actor, Capability.MANAGE_SETTINGS)
    payload = payloads.envelope(
        WebhookEvent.TEST,
        {"webhook": {"id": str(webhook.id), "url": webhook.url}, "message": "A test delivery."},
    )
    delivery = WebhookDelivery.objects.create(
        webhook=webhook,
        event=WebhookEvent.TEST,
        key=f"webhook.test:{payload['id']}",
        payload=payload,
        next_attempt_at=timezone.now(),
    )
    audit.record_audit_event(
        action=AuditAction.WEBHOOK_TESTED,
        actor=actor,
        target_type="webhook",
        target_id=webhook.id,
        target_label=webhook.url,
    )
    _enqueue_on_commit([delivery])
    return delivery


def queue_for_webhook(
    *, webhook: Webhook, event: str, key: str, data: dict[str, Any]
) -> WebhookDelivery | None:
    """Queue one delivery to this webhook whatever it subscribes to (a rule's "call
    webhook" action), sent after the commit; None when the webhook is disabled or the key
    was queued already."""
    if not webhook.is_active:
        return None
    created = _create_deliveries([(webhook, event, key, payloads.envelope(event, data))])
    _enqueue_on_commit(created)
    return created[0] if created else None


# --- Events ------------------------------------------------------------------------------


def events_of_reason(reason: str) -> set[str]:
    """The webhook events a ticket_changed reason may give (ticket.solved and
    message.created are decided when the deliveries are queued: a new ticket's first
    message, a customer's message, a public reply)."""
    if reason == "created":
        return {WebhookEvent.TICKET_CREATED.value, WebhookEvent.MESSAGE_CREATED.value}
    found: set[str] = {WebhookEvent.TICKET_UPDATED.value}
    if reason == "status":
        found.add(WebhookEvent.TICKET_SOLVED)
    if reason in MESSAGE_REASONS:
        found.add(WebhookEvent.MESSAGE_CREATED)
    return found


def collect_event(*, ticket_id: Any, reason: str = "", event: str = "", **detail: Any) -> None:
    """Queue what the change means to webhooks for after the commit, once per transaction
    with all its events. `reason` is a ticket_changed reason; `event` a webhook event named
    directly (rating.received with `rating_id`, sla.missed with `metrics`). Nothing is
    queued when no active webhook wants any of it (a cached read)."""
    possible = {event} if event else events_of_reason(reason)
    if not possible & selectors.wanted_events():
        return
    tenant_id = str(require_tenant_id())
    item = {
        "ticket_id": str(ticket_id),
        "reason": reason,
        "event": event,
        "at": timezone.now().isoformat(),
        **detail,
    }
    collect_on_commit(
        ("automation.webhooks", tenant_id), item, lambda items: _enqueue_events(tenant_id, items)
    )


def _enqueue_events(tenant_id: str, items: list[dict[str, Any]]) -> None:
    tasks.queue_webhook_events.delay(tenant_id=tenant_id, items=items, batch_id=str(uuid4()))


def _events_of(
    item: dict[str, Any], ticket: Any, batch_id: str
) -> list[tuple[str, str, dict[str, Any]]]:
    """(event, key, data) for one collected item; keys make each event queued once."""
    at = datetime.datetime.fromisoformat(item["at"])
    found: list[tuple[str, str, dict[str, Any]]] = []
    event, reason = item.get("event") or "", item.get("reason") or ""
    if event == WebhookEvent.RATING_RECEIVED:
        rating = SatisfactionRating.objects.filter(id=str(item.get("rating_id"))).first()
        if rating is not None and rating.score:
            found.append(
                (
                    event,
                    f"{event}:{rating.id}:{rating.score}:{rating.rated_at}",
                    {"rating": payloads.rating_data(rating)},
                )
            )
        return found
    if event == WebhookEvent.SLA_MISSED:
        for metric in item.get("metrics") or []:
            found.append(
                (event, f"{event}:{ticket.id}:{metric}:{batch_id}", {"sla": {"metric": metric}})
            )
        return found
    if reason == "created":
        found.append((WebhookEvent.TICKET_CREATED, f"ticket.created:{ticket.id}", {}))
    else:
        found.append((WebhookEvent.TICKET_UPDATED, f"ticket.updated:{ticket.id}:{batch_id}", {}))
    if reason == "status" and ticket.status == TicketStatus.SOLVED and ticket.solved_at:
        found.append(
            (
                WebhookEvent.TICKET_SOLVED,
                f"ticket.solved:{ticket.id}:{ticket.solved_at.isoformat()}",
                {},
            )
        )
    if reason in MESSAGE_REASONS or reason == "created":
        messages = (
            Message.objects.filter(
                ticket_id=ticket.id,
                kind__in=[MessageKind.CUSTOMER, MessageKind.REPLY],
                created_at__gte=at - MESSAGE_WINDOW,
                created_at__lte=at,
            )
            .select_related("author_member__user", "author_contact")
            .order_by("created_at", "id")
        )
        for message in messages:
            found.append(
                (
                    WebhookEvent.MESSAGE_CREATED,
                    f"message.created:{message.id}",
                    {"message": payloads.message_data(message)},
                )
            )
    return found


@transaction.atomic
def queue_events(*, items: list[dict[str, Any]], batch_id: str) -> list[WebhookDelivery]:
    """Write a delivery for each event of the collected items and each active webhook
    subscribed to it, and queue them after the commit. Idempotent: a second run finds the
    keys taken and queues nothing new."""
    ticket_ids = list(dict.fromkeys(UUID(item["ticket_id"]) for item in items))
    tickets = payloads.load_tickets(ticket_ids)
    base_url = payloads.base_url()
    subscribers: dict[str, list[Webhook]] = {}
    wanted: list[tuple[Webhook, str, str, dict[str, Any]]] = []
    seen: set[str] = set()
    for item in items:
        ticket = tickets.get(UUID(item["ticket_id"]))
        if ticket is None:  # deleted since
            continue
        for event, key, extra in _events_of(item, ticket, batch_id):
            if key in seen:
                continue
            seen.add(key)
            if event not in subscribers:
                subscribers[event] = selectors.list_subscribers(event)
            if not subscribers[event]:
                continue
            payload = payloads.envelope(
                event, {"ticket": payloads.ticket_data(ticket, base_url), **extra}
            )
            for webhook in subscribers[event]:
                wanted.append((webhook, event, key, payload))
    created = _create_deliveries(wanted)
    _enqueue_on_commit(created)
    return created


def _create_deliveries(
    wanted: list[tuple[Webhook, str, str, dict[str, Any]]],
) -> list[WebhookDelivery]:
    """Insert the deliveries whose (webhook, key) is new; returns those inserted."""
    if not wanted:
        return []
    taken = set(
        WebhookDelivery.objects.filter(
            webhook_id__in={webhook.id for webhook, *_ in wanted},
            key__in={key for _, _, key, _ in wanted},
        ).values_list("webhook_id", "key")
    )
    now, tenant_id = timezone.now(), require_tenant_id()
    fresh = [
        WebhookDelivery(
            tenant_id=tenant_id,
            webhook=webhook,
            event=event,
            key=key[:200],
            payload=payload,
            next_attempt_at=now,
        )
        for webhook, event, key, payload in wanted
        if (webhook.id, key[:200]) not in taken
    ]
    # A concurrent run of the same event may have inserted some since: those are skipped.
    WebhookDelivery.objects.bulk_create(fresh, ignore_conflicts=True)
    return fresh


def _enqueue_on_commit(deliveries: list[WebhookDelivery]) -> None:
    if not deliveries:
        return
    tenant_id = str(require_tenant_id())
    ids = [str(delivery.id) for delivery in deliveries]

    def enqueue() -> None:
        for delivery_id in ids:
            tasks.deliver_webhook.delay(tenant_id=tenant_id, delivery_id=delivery_id)

    transaction.on_commit(enqueue)


# --- Delivery ----------------------------------------------------------------------------


def retry_delay(attempts: int) -> int:
    """Seconds before the next attempt after `attempts` failed ones: 30 s, doubling, at most
    four hours between attempts."""
    delay: int = FIRST_RETRY_SECONDS * 2 ** max(attempts - 1, 0)
    return min(delay, LONGEST_WAIT_SECONDS)


def claim(delivery_id: UUID) -> WebhookDelivery | None:
    """Pending and due → sending, as a compare-and-set update (call in a transaction that
    commits before the send). None when another attempt has it, it is done or not due."""
    now = timezone.now()
    claimed = WebhookDelivery.objects.filter(
        id=delivery_id, status=WebhookDeliveryStatus.PENDING, next_attempt_at__lte=now
    ).update(
        status=WebhookDeliveryStatus.SENDING,
        claimed_at=now,
        attempts=F("attempts") + 1,
        updated_at=now,
    )
    if not claimed:
        return None
    return selectors.get_delivery(delivery_id)


def deliver(*, tenant_id: str, delivery_id: UUID) -> int | None:
    """Send one due delivery: claim (committed), POST outside any transaction, record.
    Returns the seconds until a retry worth a task countdown, else None."""
    with tenant_context(tenant_id):
        delivery = claim(delivery_id)
        if delivery is None:
            return None
        webhook = delivery.webhook
        if not webhook.is_active and delivery.event != WebhookEvent.TEST:
            _finish(delivery, status=WebhookDeliveryStatus.FAILED, error="the webhook is disabled")
            return None
        try:
            secret = crypto.decrypt(webhook.secret_encrypted)
        except crypto.DecryptionFailed:
            # The encryption key changed: no attempt could ever sign it. Failing it (rather
            # than raising) keeps the sweeper from claiming it again and again.
            _finish(
                delivery,
                status=WebhookDeliveryStatus.FAILED,
                error="the signing secret cannot be read (the encryption key changed):"
                " make a new secret",
            )
            return None
    body = encode(delivery.payload)
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(body, secret),
        "X-Helpdesk-Event": delivery.event,
        "X-Helpdesk-Delivery": str(delivery.id),
    }
    retryable = True
    try:
        outcome = sender.post(webhook.url, body, headers)
    except WebhookTargetRefused as error:
        outcome = sender.Outcome(status=None, milliseconds=0, excerpt="", error=str(error))
        retryable = False
    except InvalidWebhook as error:  # the name no longer resolves: maybe for a while
        outcome = sender.Outcome(status=None, milliseconds=0, excerpt="", error=str(error))
    with tenant_context(tenant_id):
        return record_outcome(delivery_id=delivery.id, outcome=outcome, retryable=retryable)


def _finish(delivery: WebhookDelivery, *, status: str, error: str) -> None:
    WebhookDelivery.objects.filter(id=delivery.id).update(
        status=status, error=error[:500], next_attempt_at=None, updated_at=timezone.now()
    )


@transaction.atomic
def record_outcome(
    *, delivery_id: UUID, outcome: sender.Outcome, retryable: bool = True
) -> int | None:
    """Store what an attempt got, and what follows: done, another attempt later (until a
    day after the delivery was queued), or failed for good; the webhook's failure count,
    disabling it at the limit. Returns the seconds until a retry worth a task countdown."""
    delivery = (
        WebhookDelivery.objects.select_for_update()
        .select_related("webhook")
        .filter(id=delivery_id, status=WebhookDeliveryStatus.SENDING)
        .first()
    )
    if delivery is None:
        return None
    now = timezone.now()
    delivery.response_status = outcome.status
    delivery.response_ms = outcome.milliseconds
    delivery.response_excerpt = outcome.excerpt
    delivery.error = outcome.error[:500]
    delivery.claimed_at = None
    webhook = Webhook.objects.select_for_update().get(id=delivery.webhook_id)
    countdown: int | None = None
    if outcome.succeeded:
        delivery.status = WebhookDeliveryStatus.SUCCEEDED
        delivery.delivered_at = now
        delivery.next_attempt_at = None
        webhook.consecutive_failures = 0
        webhook.last_success_at = now
    else:
        delay = retry_delay(delivery.attempts)
        if retryable and now + datetime.timedelta(seconds=delay) < delivery.created_at + RETRY_FOR:
            delivery.status = WebhookDeliveryStatus.PENDING
            delivery.next_attempt_at = now + datetime.timedelta(seconds=delay)
            countdown = delay if delay <= COUNTDOWN_UP_TO_SECONDS else None
        else:
            delivery.status = WebhookDeliveryStatus.FAILED
            delivery.next_attempt_at = None
        webhook.consecutive_failures += 1
        webhook.last_failure_at = now
    delivery.save()
    webhook.save(
        update_fields=["consecutive_failures", "last_success_at", "last_failure_at", "updated_at"]
    )
    limit = int(settings.HELPDESK_WEBHOOK_DISABLE_AFTER_FAILURES)
    if webhook.is_active and webhook.consecutive_failures >= limit:
        disable_webhook(webhook=webhook, reason=f"{limit} failed attempts in a row")
        return None
    return countdown


def disable_webhook(*, webhook: Webhook, reason: str) -> None:
    """Turn a failing webhook off (its waiting deliveries fail), record it in the audit log
    and tell the admins by mail."""
    now = timezone.now()
    Webhook.objects.filter(id=webhook.id).update(
        is_active=False, disabled_reason=reason[:300], disabled_at=now, updated_at=now
    )
    WebhookDelivery.objects.filter(
        webhook_id=webhook.id, status=WebhookDeliveryStatus.PENDING
    ).update(
        status=WebhookDeliveryStatus.FAILED,
        error="the webhook was disabled",
        next_attempt_at=None,
        updated_at=now,
    )
    audit.record_audit_event(
        action=AuditAction.WEBHOOK_DISABLED,
        actor=None,
        target_type="webhook",
        target_id=webhook.id,
        target_label=webhook.url,
        details={"reason": reason},
    )
    _drop_cache()
    _mail_admins_disabled(webhook, reason)


def _mail_admins_disabled(webhook: Webhook, reason: str) -> None:
    tenant = tenancy_selectors.get_tenant(require_tenant_id())
    page = tenancy_selectors.tenant_base_url(tenant) + reverse(
        "automation-webhooks:webhook-detail", args=[webhook.id]
    )
    admins = permissions.who_may(tenancy_selectors.list_members(), Capability.MANAGE_SETTINGS)
    stamp = timezone.now().strftime("%Y%m%d%H%M%S")
    for admin in admins:
        email = mail.build(
            kind=OutboundEmailKind.NOTIFICATION,
            key=f"webhook-disabled:{webhook.id}:{stamp}:{admin.id}",
            template="webhook_disabled",
            context={
                "tenant_name": tenant.name,
                "member_name": admin.user.display_name,
                "url": webhook.url,
                "reason": reason,
                "page": page,
            },
            to=[admin.user.email],
            automatic="auto-generated",
            tags=["webhook-disabled"],
        )
        mail.queue_email(email)


def mark_interrupted_deliveries() -> int:
    """Deliveries claimed longer ago than an attempt takes and never recorded (the worker
    died mid-send) are due again: the receiver may see one twice, told apart by the
    X-Helpdesk-Delivery header. One whose day of retries (RETRY_FOR) is over has failed
    instead, so a delivery that keeps stopping its worker is not retried for ever."""
    now = timezone.now()
    interrupted = WebhookDelivery.objects.filter(
        status=WebhookDeliveryStatus.SENDING, claimed_at__lt=now - SENDING_TIMEOUT
    )
    given_up = interrupted.filter(created_at__lt=now - RETRY_FOR).update(
        status=WebhookDeliveryStatus.FAILED,
        error="the last attempt was cut off (its worker stopped) after a day of retries",
        next_attempt_at=None,
        updated_at=now,
    )
    due_again = interrupted.update(
        status=WebhookDeliveryStatus.PENDING, next_attempt_at=now, updated_at=now
    )
    return given_up + due_again


@transaction.atomic
def erase_payloads(*, ticket_ids: list[str]) -> int:
    """Empty the body and the receiver's answer of every delivery about these tickets (a
    person's erasure, retention); the log keeps that a delivery happened. Returns how
    many."""
    about = WebhookDelivery.objects.filter(payload__data__ticket__id__in=ticket_ids)
    return about.update(
        payload={"erased": True},
        response_excerpt="",
        updated_at=timezone.now(),
    )
