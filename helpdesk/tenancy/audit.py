"""The audit log: who did what to the configuration, the team, API tokens and personal
data, and every sign-in, with the address it came from. Rows are only ever added; the
one change ever made to a row is an erasure's (`scrub_personal_values`): a person's
address and name in the entries' text become a placeholder, and the entry stays.

Services that change those things call `record_audit_event` inside their transaction, so
the entry commits with the change and a refused change leaves none. A failed sign-in is
refused (the request's transaction rolls back), yet it must be kept: the login view hands
it to `record_after_request`, and TenantMiddleware writes it once the request's
transaction is over, whatever its outcome.

The client's address is the one piece of request metadata services do not take as an
argument: TenantMiddleware holds it for the request (`request_origin`) and every entry
written during the request carries it. No rule depends on it; passing it through every
service of every app would put an HTTP notion into all of them.
"""

from __future__ import annotations

import contextvars
import datetime
import ipaddress
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from django.db.models import Q, QuerySet
from django.http import HttpRequest

from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import AuditAction, AuditEvent, Membership

_origin: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "helpdesk_audit_origin", default=None
)

DEFERRED_ATTRIBUTE = "_audit_after_request"


@contextmanager
def request_origin(address: str) -> Iterator[None]:
    """Entries recorded inside the block come from `address` (a request's client)."""
    token = _origin.set(address)
    try:
        yield
    finally:
        _origin.reset(token)


def _valid_address(address: str | None) -> str | None:
    if not address:
        return None
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def _actor_email(actor: Membership | None) -> str:
    if actor is None:
        return ""
    user = getattr(actor, "user", None)
    return str(getattr(user, "email", "") or "")


def record_audit_event(
    *,
    action: AuditAction | str,
    actor: Membership | None,
    target_type: str = "",
    target_id: Any = "",
    target_label: str = "",
    details: dict[str, Any] | None = None,
    actor_email: str = "",
) -> AuditEvent:
    """Add one entry in the current tenant, in the caller's transaction. `actor` None is
    the system (a task, a command) or a stranger (a failed sign-in names the address tried
    in `actor_email`). Raises ValueError for an action that is not an AuditAction."""
    if action not in AuditAction.values:
        raise ValueError(f"{action!r} is not an audit action")
    return AuditEvent.objects.create(
        actor=actor,
        actor_email=(actor_email or _actor_email(actor))[:254],
        ip_address=_valid_address(_origin.get()),
        action=str(action),
        target_type=target_type[:40],
        target_id=str(target_id or "")[:64],
        target_label=str(target_label or "")[:300],
        details=details or {},
    )


def record_after_request(request: HttpRequest, **entry: Any) -> None:
    """Keep an entry the request's own transaction may roll back (a refused sign-in):
    TenantMiddleware writes it after that transaction, in a transaction of its own."""
    entry["ip_address"] = _origin.get()
    pending: list[dict[str, Any]] = getattr(request, DEFERRED_ATTRIBUTE, None) or []
    pending.append(entry)
    setattr(request, DEFERRED_ATTRIBUTE, pending)


def write_after_request(request: HttpRequest, tenant_id: UUID) -> int:
    """Write the entries `record_after_request` kept for the request (TenantMiddleware,
    after the request's transaction). Returns how many."""
    pending: list[dict[str, Any]] = getattr(request, DEFERRED_ATTRIBUTE, None) or []
    if not pending:
        return 0
    setattr(request, DEFERRED_ATTRIBUTE, [])
    with tenant_context(tenant_id):
        for entry in pending:
            address = entry.pop("ip_address", None)
            with request_origin(address or ""):
                record_audit_event(**entry)
    return len(pending)


def list_audit_events(
    *,
    actor_id: UUID | None = None,
    action: str = "",
    since: datetime.datetime | None = None,
    until: datetime.datetime | None = None,
) -> QuerySet[AuditEvent]:
    """The current tenant's entries, newest first, filtered by actor, action (a whole
    action, or a family such as `webhook`) and time (`since` inclusive, `until`
    exclusive)."""
    events = AuditEvent.objects.select_related("actor__user").order_by("-id")
    if actor_id is not None:
        events = events.filter(actor_id=actor_id)
    if action:
        if action in AuditAction.values:
            events = events.filter(action=action)
        else:
            events = events.filter(action__startswith=f"{action}.")
    if since is not None:
        events = events.filter(created_at__gte=since)
    if until is not None:
        events = events.filter(created_at__lt=until)
    return events


def action_families() -> list[str]:
    """The families of actions (the part before the dot), for filters."""
    return sorted({value.partition(".")[0] for value in AuditAction.values})


def record_settings_change(
    *,
    actor: Membership | None,
    what: str,
    target: Any = None,
    label: str = "",
    change: str = "saved",
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """A change to the help desk's configuration (`what`: department, mailbox,
    ticket_settings, …; `change`: saved, created, deleted) as a `settings.changed` entry."""
    return record_audit_event(
        action=AuditAction.SETTINGS_CHANGED,
        actor=actor,
        target_type=what,
        target_id=getattr(target, "id", "") or "",
        target_label=label,
        details={"change": change, **(details or {})},
    )


# A name shorter than this is not looked for in the log's text: "Al" would match words.
MIN_SCRUBBED_NAME = 4


def _scrub_text(text: str, patterns: list[re.Pattern[str]], replacement: str) -> str:
    for pattern in patterns:
        text = pattern.sub(replacement, text)
    return text


def _scrub_value(value: Any, patterns: list[re.Pattern[str]], replacement: str) -> Any:
    if isinstance(value, str):
        return _scrub_text(value, patterns, replacement)
    if isinstance(value, list):
        return [_scrub_value(item, patterns, replacement) for item in value]
    if isinstance(value, dict):
        return {
            _scrub_text(str(key), patterns, replacement): _scrub_value(item, patterns, replacement)
            for key, item in value.items()
        }
    return value


def scrub_personal_values(*, emails: list[str], names: list[str], replacement: str) -> int:
    """An erasure's part of the audit log (current tenant, caller's transaction): every
    entry whose address, label or details name one of `emails` (any case) or `names`
    (whole words, any case; names shorter than MIN_SCRUBBED_NAME are left) gets
    `replacement` (“erased contact #<id>”) in their place. The entries stay, with who
    did what and when. Returns how many entries changed."""
    emails = sorted({e.strip().lower() for e in emails if e and e.strip()}, key=len, reverse=True)
    names = sorted(
        {n.strip() for n in names if n and len(n.strip()) >= MIN_SCRUBBED_NAME},
        key=len,
        reverse=True,
    )
    if not emails and not names:
        return 0
    patterns = [re.compile(re.escape(email), re.IGNORECASE) for email in emails] + [
        re.compile(rf"(?<!\w){re.escape(name)}(?!\w)", re.IGNORECASE) for name in names
    ]
    found = Q()
    for value in [*emails, *names]:
        found |= (
            Q(actor_email__icontains=value)
            | Q(target_label__icontains=value)
            | Q(details__icontains=value)
        )
    changed = 0
    for event in AuditEvent.objects.filter(found).select_for_update():
        actor_email = _scrub_text(event.actor_email, patterns, replacement)[:254]
        label = _scrub_text(event.target_label, patterns, replacement)[:300]
        details = _scrub_value(event.details, patterns, replacement)
        if (actor_email, label, details) == (event.actor_email, event.target_label, event.details):
            continue  # a partial word only (“Anna” in “Annabel”)
        event.actor_email, event.target_label, event.details = actor_email, label, details
        event.save(update_fields=["actor_email", "target_label", "details", "updated_at"])
        changed += 1
    return changed
