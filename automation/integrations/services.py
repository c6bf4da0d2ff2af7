"""Ticket integrations. Invariants: only admins change integrations and contact apps, each
change in the audit log, and their secret header is stored encrypted and never shown or
returned again; every call goes through automation.integrations.client (public addresses
only unless the operator allows private ones, a time limit, a size limit, no redirects);
a template names only known placeholders and a body template is valid JSON with any
values (checked on save, values JSON-escaped when sent).

Creating a task in an external tool is asynchronous: the service writes a pending linked
item and queues `create_external_task` after the commit; the task claims it (pending →
sending, a compare-and-set committed before the call), calls the tool outside any
transaction and records created (with the link, and an event in the ticket's history) or
failed (with the reason). A slow tool never holds a page or a database transaction, and
the item is a row from the first moment, so nothing an agent asked for is lost. It is
never retried by itself: creating is not idempotent on the tool's side and a repeat could
make two issues; an agent retries a failed item, or one stuck (its worker died) for
STUCK_AFTER.

A contact app is fetched by the ticket page's sidebar (a lazy htmx fragment) and the API,
and cached per tenant, app (and its version) and contact for the app's cache time; when a
refresh fails, the last good answer is shown as stale for up to a day.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from automation.errors import (
    ExternalTaskNotRetryable,
    IntegrationInactive,
    InvalidIntegration,
)
from automation.integrations import client, config, selectors, tasks, templating
from automation.models import (
    ExternalTask,
    ExternalTaskIntegration,
    ExternalTaskStatus,
)
from helpdesk.core import crypto, outbound_http
from helpdesk.tenancy import permissions
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.context import require_tenant_id, tenant_context
from helpdesk.tenancy.models import AuditAction, Membership
from helpdesk.tenancy.permissions import Capability
from tickets.models import Message, MessageKind, Ticket
from tickets.ticket import services as ticket_services

# A tool has this long to connect and to answer creating a task (the task's own time
# limit is far above it).
TASK_TIMEOUT_SECONDS = 10
# A pending or sending item untouched this long lost its worker: an agent may retry it.
STUCK_AFTER = datetime.timedelta(minutes=5)
EVENT_FIELD = "external_task"


# --- Task integrations -------------------------------------------------------------------


@transaction.atomic
def create_integration(
    *,
    actor: Membership | None,
    name: str,
    url_template: str,
    link_path: str = "",
    link_template: str = "",
    id_path: str = "",
    method: str = "post",
    headers: dict[str, str] | None = None,
    secret_header_name: str = "",
    secret_header_value: str = "",
    body_template: str = "",
    is_active: bool = True,
) -> ExternalTaskIntegration:
    """A new integration creating tasks in a tool. Raises PermissionDenied (not an admin),
    InvalidIntegration (what is wrong, by field), IntegrationTargetRefused (a loopback or
    private host), IntegrationNameTaken."""
    if actor is not None:
        permissions.require(actor, Capability.MANAGE_SETTINGS)
    integration = ExternalTaskIntegration(created_by=actor, is_active=bool(is_active))
    _apply_integration(
        integration,
        {
            "name": name,
            "url_template": url_template,
            "link_path": link_path,
            "link_template": link_template,
            "id_path": id_path,
            "method": method,
            "headers": headers,
            "body_template": body_template,
        },
    )
    header, secret = config.clean_secret(secret_header_name, secret_header_value)
    integration.secret_header_name = header
    integration.secret_header_value_encrypted = crypto.encrypt(secret)
    config.save_named(integration)
    config.record_change(
        AuditAction.INTEGRATION_CREATED,
        actor,
        integration,
        "external_task_integration",
        url=integration.url_template,
        secret=bool(secret),
    )
    return integration


def _apply_integration(integration: ExternalTaskIntegration, data: dict[str, Any]) -> list[str]:
    """Set the given fields, checked; returns the names of those that changed."""
    changed: list[str] = []

    def put(attribute: str, value: Any) -> None:
        if getattr(integration, attribute) != value:
            setattr(integration, attribute, value)
            changed.append(attribute)

    if "name" in data:
        put("name", config.clean_name(data["name"]))
    if "method" in data:
        put("method", config.clean_method(data["method"]))
    if "url_template" in data:
        put(
            "url_template",
            config.clean_url_template(
                data["url_template"], templating.TICKET_PLACEHOLDERS, templating.TICKET_SAMPLE
            ),
        )
    if "headers" in data:
        put(
            "headers_template",
            config.clean_headers(data["headers"], templating.TICKET_PLACEHOLDERS),
        )
    if "body_template" in data:
        body = config.storable(str(data["body_template"] or ""), "body template")
        try:
            templating.check_body_template(body)
        except templating.TemplateError as error:
            raise config.invalid(error) from error
        put("body_template", body)
    if "id_path" in data:
        put("id_path", config.clean_path(data["id_path"], "id path"))
    if "link_path" in data:
        put("link_path", config.clean_path(data["link_path"], "link path"))
    if "link_template" in data:
        put("link_template", config.clean_link_template(data["link_template"], integration.id_path))
    if not integration.link_path and not integration.link_template:
        raise InvalidIntegration(
            "Say where the created item's link is: a link path (html_url) or a link template"
            " (https://example.atlassian.net/browse/{{id}} with the id path key)."
        )
    return changed


@transaction.atomic
def update_integration(
    *, integration: ExternalTaskIntegration, actor: Membership | None, **changes: Any
) -> ExternalTaskIntegration:
    """Change an integration: the keyword arguments of create_integration, each optional;
    a secret_header_value of None keeps the stored secret, "" removes it. Raises
    PermissionDenied, InvalidIntegration, IntegrationTargetRefused, IntegrationNameTaken."""
    if actor is not None:
        permissions.require(actor, Capability.MANAGE_SETTINGS)
    integration = selectors.list_integrations().select_for_update().get(id=integration.id)
    secret_value = changes.pop("secret_header_value", None)
    secret_name = changes.pop("secret_header_name", None)
    is_active = changes.pop("is_active", None)
    changed = _apply_integration(integration, changes)
    changed += config.apply_secret_and_active(
        integration, secret_name=secret_name, secret_value=secret_value, is_active=is_active
    )
    if not changed:
        return integration
    config.save_named(integration)
    config.record_change(
        AuditAction.INTEGRATION_UPDATED,
        actor,
        integration,
        "external_task_integration",
        changed=sorted(set(changed)),
    )
    return integration


@transaction.atomic
def delete_integration(*, integration: ExternalTaskIntegration, actor: Membership | None) -> None:
    """Delete an integration; the items it created stay linked on their tickets. Raises
    PermissionDenied."""
    if actor is not None:
        permissions.require(actor, Capability.MANAGE_SETTINGS)
    config.record_change(
        AuditAction.INTEGRATION_DELETED, actor, integration, "external_task_integration"
    )
    integration.delete()


# --- Building and reading a task's request ------------------------------------------------


@dataclass(frozen=True)
class PreparedCall:
    method: str
    url: str
    headers: dict[str, str]
    body: str | None


def prepare_task_call(integration: ExternalTaskIntegration, values: dict[str, str]) -> PreparedCall:
    """The request an integration makes with these placeholder values. Raises
    InvalidIntegration when the secret cannot be read (the encryption key changed) or the
    body no longer makes JSON."""
    try:
        headers = config.build_headers(
            integration.headers_template,
            integration.secret_header_name,
            integration.secret_header_value_encrypted,
            values,
        )
    except crypto.DecryptionFailed as error:
        raise InvalidIntegration(
            "The secret cannot be read (the encryption key changed): enter it again."
        ) from error
    body: str | None = None
    if integration.body_template.strip():
        try:
            body = templating.render_json_body(integration.body_template, values)
        except templating.TemplateError as error:
            raise config.invalid(error) from error
    return PreparedCall(
        method=integration.method,
        url=templating.render_url(integration.url_template, values),
        headers=headers,
        body=body,
    )


@dataclass(frozen=True)
class CreatedItem:
    external_id: str
    url: str
    title: str
    error: str


def read_created_item(
    integration: ExternalTaskIntegration, answer: client.Answer, default_title: str
) -> CreatedItem:
    """The created item's id, link and title from a tool's answer, or why they are not
    there (an error answer, not JSON, no link at the path, a link that is not http(s))."""
    if not answer.succeeded:
        return CreatedItem("", "", "", answer.error or "no answer")
    if not answer.is_json:
        return CreatedItem("", "", "", f"the answer ({answer.status}) is not JSON")
    document = answer.document
    external_id = ""
    if integration.id_path:
        external_id = templating.scalar_text(templating.find(document, integration.id_path))[:200]
        if not external_id:
            return CreatedItem("", "", "", f"the answer has no id at {integration.id_path}")
    link = ""
    if integration.link_path:
        link = templating.scalar_text(templating.find(document, integration.link_path))
    if not link and integration.link_template:
        link = templating.render_url(integration.link_template, {"id": external_id})
    if not link:
        return CreatedItem("", "", "", f"the answer has no link at {integration.link_path}")
    parts = urlsplit(link)
    if parts.scheme not in {"http", "https"} or not parts.netloc or len(link) > 2000:
        return CreatedItem("", "", "", f"the link {link[:200]!r} is not an http(s) URL")
    title = ""
    if isinstance(document, dict):
        title = templating.scalar_text(document.get("title") or document.get("name") or "")
    return CreatedItem(
        external_id=external_id or link.rstrip("/").rsplit("/", 1)[-1][:200],
        url=link,
        title=(title or default_title)[:300],
        error="",
    )


def ticket_values(ticket: Ticket, agent: Membership | None) -> dict[str, str]:
    """The placeholder values of a ticket (and the agent acting)."""
    contact = ticket.contact
    company = contact.company if contact is not None else None
    latest = (
        Message.objects.filter(ticket=ticket, kind__in=[MessageKind.CUSTOMER, MessageKind.REPLY])
        .order_by("-created_at", "-id")
        .values_list("body_text", flat=True)
        .first()
    )
    base = tenancy_selectors.tenant_base_url(tenancy_selectors.get_tenant(require_tenant_id()))
    user = agent.user if agent is not None else None
    return {
        "ticket.number": str(ticket.number),
        "ticket.subject": ticket.subject,
        "ticket.url": base + reverse("tickets:ticket-detail", args=[ticket.number]),
        "ticket.status": ticket.status,
        "ticket.priority": ticket.priority,
        "contact.email": contact.email if contact else "",
        "contact.name": contact.name if contact else "",
        "company.name": company.name if company else "",
        "latest_message": latest or "",
        "agent.name": user.display_name if user else "",
        "agent.email": user.email if user else "",
    }


# --- Creating tasks from tickets ----------------------------------------------------------


@transaction.atomic
def create_external_task(
    *, ticket: Ticket, integration: ExternalTaskIntegration, actor: Membership | None
) -> ExternalTask:
    """A linked item being created in the integration's tool for the ticket: pending, its
    request made by a task after the commit; the one already being created for this
    ticket and integration when there is one (a double click makes one issue). Raises
    PermissionDenied (a light agent), IntegrationInactive."""
    if actor is not None:
        permissions.require(actor, Capability.CREATE_EXTERNAL_TASKS)
    if not integration.is_active:
        raise IntegrationInactive(f"{integration.name} is turned off.")
    in_flight = _in_flight(ticket.id, integration.id)
    if in_flight is not None:
        return in_flight
    try:
        with transaction.atomic():
            item = ExternalTask.objects.create(
                ticket=ticket,
                integration=integration,
                integration_name=integration.name,
                title=ticket.subject[:300],
                created_by=actor,
            )
    except IntegrityError:
        # Another request created it between the check and the insert.
        in_flight = _in_flight(ticket.id, integration.id)
        if in_flight is None:
            raise
        return in_flight
    _enqueue(item)
    return item


def _in_flight(ticket_id: Any, integration_id: Any) -> ExternalTask | None:
    return ExternalTask.objects.filter(
        ticket_id=ticket_id,
        integration_id=integration_id,
        status__in=[ExternalTaskStatus.PENDING, ExternalTaskStatus.SENDING],
    ).first()


def _enqueue(item: ExternalTask) -> None:
    tenant_id, item_id = str(require_tenant_id()), str(item.id)
    transaction.on_commit(
        lambda: tasks.create_external_task.delay(tenant_id=tenant_id, item_id=item_id)
    )


def is_stuck(item: ExternalTask, now: datetime.datetime) -> bool:
    """Pending or sending for longer than any attempt takes: its task or worker was lost."""
    since = item.claimed_at or item.created_at
    return item.status in {ExternalTaskStatus.PENDING, ExternalTaskStatus.SENDING} and (
        since < now - STUCK_AFTER
    )


@transaction.atomic
def retry_external_task(*, item: ExternalTask, actor: Membership | None) -> ExternalTask:
    """Try a failed (or stuck) item again. Raises PermissionDenied, ExternalTaskNotRetryable,
    IntegrationInactive (the integration was turned off or deleted)."""
    if actor is not None:
        permissions.require(actor, Capability.CREATE_EXTERNAL_TASKS)
    item = ExternalTask.objects.select_for_update().get(id=item.id)
    integration = (
        selectors.list_integrations().filter(id=item.integration_id).first()
        if item.integration_id
        else None
    )
    if item.status != ExternalTaskStatus.FAILED and not is_stuck(item, timezone.now()):
        raise ExternalTaskNotRetryable()
    if integration is None or not integration.is_active:
        raise IntegrationInactive(f"{item.integration_name} is turned off or deleted.")
    other = _in_flight(item.ticket_id, integration.id)
    if other is not None and other.id != item.id:
        raise ExternalTaskNotRetryable(
            f"Another item is being created in {integration.name} for this ticket."
        )
    item.status = ExternalTaskStatus.PENDING
    item.error = ""
    item.claimed_at = None
    item.finished_at = None
    try:
        with transaction.atomic():
            item.save()
    except IntegrityError as error:
        raise ExternalTaskNotRetryable(
            f"Another item is being created in {integration.name} for this ticket."
        ) from error
    _enqueue(item)
    return item


def run_external_task(*, tenant_id: str, item_id: str) -> ExternalTask | None:
    """Create one pending item in its tool: claim it (committed), call the tool outside any
    transaction, record the outcome. A second run finds it claimed and does nothing."""
    with tenant_context(tenant_id):
        now = timezone.now()
        claimed = ExternalTask.objects.filter(id=item_id, status=ExternalTaskStatus.PENDING).update(
            status=ExternalTaskStatus.SENDING,
            claimed_at=now,
            attempts=F("attempts") + 1,
            updated_at=now,
        )
        if not claimed:
            return None
        item = ExternalTask.objects.select_related(
            "integration", "ticket__contact__company", "created_by__user"
        ).get(id=item_id)
        integration = item.integration
        if integration is None or not integration.is_active:
            return _finish(item, error="the integration was turned off or deleted")
        try:
            call = prepare_task_call(integration, ticket_values(item.ticket, item.created_by))
        except InvalidIntegration as error:
            return _finish(item, error=str(error))
    try:
        answer = client.call(
            call.method,
            call.url,
            headers=call.headers,
            body=call.body,
            timeout=TASK_TIMEOUT_SECONDS,
        )
    except (outbound_http.OutboundTargetRefused, outbound_http.OutboundHostNotFound) as error:
        answer = client.Answer(None, None, False, "", 0, str(error)[:500])
    with tenant_context(tenant_id):
        found = read_created_item(integration, answer, item.ticket.subject)
        return _finish(item, error=found.error, found=found, status=answer.status)


def _finish(
    item: ExternalTask,
    *,
    error: str,
    found: CreatedItem | None = None,
    status: int | None = None,
) -> ExternalTask | None:
    """Record what the call got (only over the claim this run holds), and the event in
    the ticket's history when the item was created."""
    row = (
        ExternalTask.objects.select_for_update()
        .filter(id=item.id, status=ExternalTaskStatus.SENDING)
        .first()
    )
    if row is None:
        return None
    row.response_status = status
    row.finished_at = timezone.now()
    if found is not None and not error:
        row.status = ExternalTaskStatus.CREATED
        row.external_id = found.external_id
        row.url = found.url
        row.title = found.title
        row.error = ""
    else:
        row.status = ExternalTaskStatus.FAILED
        row.error = error[:500]
    row.save()
    if row.status == ExternalTaskStatus.CREATED:
        ticket_services.record_event(
            ticket=item.ticket,
            actor=item.created_by,
            field=EVENT_FIELD,
            old=None,
            new={"integration": row.integration_name, "id": row.external_id, "url": row.url},
        )
    return row


# --- Testing an integration ----------------------------------------------------------------


def start_integration_trial(
    *, integration: ExternalTaskIntegration, actor: Membership | None
) -> Callable[[], config.TrialOutcome]:
    """Record a test of the integration (audit log) and prepare its request with sample
    values; the function returned makes it (a real item may be created in the tool) and
    says what came back and which link was found. That function uses no database, so a
    view calls it after its transaction has ended. Raises PermissionDenied."""
    if actor is not None:
        permissions.require(actor, Capability.MANAGE_SETTINGS)
    config.record_change(
        AuditAction.INTEGRATION_TESTED, actor, integration, "external_task_integration"
    )
    values = dict(templating.TICKET_SAMPLE)
    values["ticket.subject"] = "A test from the help desk"
    try:
        call = prepare_task_call(integration, values)
    except InvalidIntegration as error:
        refused = config.TrialOutcome(None, 0, str(error), "")
        return lambda: refused

    def run() -> config.TrialOutcome:
        try:
            answer = client.call(
                call.method,
                call.url,
                headers=call.headers,
                body=call.body,
                timeout=TASK_TIMEOUT_SECONDS,
            )
        except (outbound_http.OutboundTargetRefused, outbound_http.OutboundHostNotFound) as error:
            return config.TrialOutcome(None, 0, str(error), "")
        found = read_created_item(integration, answer, values["ticket.subject"])
        return config.TrialOutcome(
            status=answer.status,
            milliseconds=answer.milliseconds,
            error=found.error,
            excerpt=answer.excerpt,
            external_id=found.external_id,
            url=found.url,
        )

    return run


def try_integration(
    *, integration: ExternalTaskIntegration, actor: Membership | None
) -> config.TrialOutcome:
    """start_integration_trial and its request in one step. Raises PermissionDenied."""
    return start_integration_trial(integration=integration, actor=actor)()


@transaction.atomic
def erase_titles(*, ticket_ids: list[str]) -> int:
    """Erased tickets (a person's erasure, retention): their linked items forget the title
    copied from the subject; the link and the id stay. Returns how many."""
    return ExternalTask.objects.filter(ticket_id__in=ticket_ids).update(
        title="", error="", updated_at=timezone.now()
    )
