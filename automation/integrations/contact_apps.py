"""Contact apps: a panel beside a ticket showing what a URL answers for the ticket's contact
(a CRM record). Only admins change them (audit-logged, the secret never shown again); the
ticket sidebar (a lazy htmx fragment) and the API fetch through
automation.integrations.client with the app's time limit (at most five seconds), cached
per tenant, app and contact for the app's cache time (an answer is used only for the app's
version and the contact's values it was fetched for; erasing a contact deletes its
answers).
When a refresh fails the last good answer is shown as stale (up to a day), and the app is
not asked again for FAILED_FETCH_SECONDS. Remote data is only ever shown as escaped text."""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from automation.integrations import client, config, selectors, templating
from automation.models import ContactApp
from helpdesk.core import crypto, outbound_http
from helpdesk.tenancy import permissions
from helpdesk.tenancy.context import require_tenant_id
from helpdesk.tenancy.models import AuditAction, Membership
from helpdesk.tenancy.permissions import Capability
from tickets.models import Contact

# After a failed refresh a contact app is not asked again for this long (a CRM that is down
# is not called on every ticket view); its last good answer stays shown as stale this long
# after its cache time.
FAILED_FETCH_SECONDS = 30
STALE_SECONDS = 86400
MAX_ROWS = 40
# The longest a fetch can take: connecting, then reading a trickling answer (cut off after
# twice the time limit; see client.call), with room to spare.
LONGEST_FETCH_SECONDS = 4 * config.MAX_TIMEOUT_SECONDS


def _apply_app(app: ContactApp, data: dict[str, Any]) -> list[str]:
    changed: list[str] = []

    def put(attribute: str, value: Any) -> None:
        if getattr(app, attribute) != value:
            setattr(app, attribute, value)
            changed.append(attribute)

    if "name" in data:
        put("name", config.clean_name(data["name"]))
    if "url_template" in data:
        put(
            "url_template",
            config.clean_url_template(
                data["url_template"], templating.CONTACT_PLACEHOLDERS, templating.CONTACT_SAMPLE
            ),
        )
    if "headers" in data:
        put(
            "headers_template",
            config.clean_headers(data["headers"], templating.CONTACT_PLACEHOLDERS),
        )
    if "cache_seconds" in data:
        put(
            "cache_seconds",
            config.clean_number(
                data["cache_seconds"],
                config.MIN_CACHE_SECONDS,
                config.MAX_CACHE_SECONDS,
                "cache time (seconds)",
            ),
        )
    if "timeout_seconds" in data:
        put(
            "timeout_seconds",
            config.clean_number(
                data["timeout_seconds"], 1, config.MAX_TIMEOUT_SECONDS, "time limit (seconds)"
            ),
        )
    if "fields" in data:
        put("fields", config.clean_fields(data["fields"]))
    return changed


@transaction.atomic
def create_contact_app(
    *,
    actor: Membership | None,
    name: str,
    url_template: str,
    headers: dict[str, str] | None = None,
    secret_header_name: str = "",
    secret_header_value: str = "",
    cache_seconds: int = 300,
    timeout_seconds: int = 3,
    fields: list[Any] | None = None,
    is_active: bool = True,
) -> ContactApp:
    """A new contact app for the ticket sidebar. Raises PermissionDenied,
    InvalidIntegration, IntegrationTargetRefused, IntegrationNameTaken."""
    if actor is not None:
        permissions.require(actor, Capability.MANAGE_SETTINGS)
    app = ContactApp(created_by=actor, is_active=bool(is_active))
    _apply_app(
        app,
        {
            "name": name,
            "url_template": url_template,
            "headers": headers,
            "cache_seconds": cache_seconds,
            "timeout_seconds": timeout_seconds,
            "fields": fields,
        },
    )
    header, secret = config.clean_secret(secret_header_name, secret_header_value)
    app.secret_header_name = header
    app.secret_header_value_encrypted = crypto.encrypt(secret)
    config.save_named(app)
    config.record_change(
        AuditAction.INTEGRATION_CREATED,
        actor,
        app,
        "contact_app",
        url=app.url_template,
        secret=bool(secret),
    )
    return app


@transaction.atomic
def update_contact_app(*, app: ContactApp, actor: Membership | None, **changes: Any) -> ContactApp:
    """Change a contact app (create_contact_app's arguments, each optional; the secret as
    in update_integration); its cached answers are not used again. Raises
    PermissionDenied, InvalidIntegration, IntegrationTargetRefused, IntegrationNameTaken."""
    if actor is not None:
        permissions.require(actor, Capability.MANAGE_SETTINGS)
    app = selectors.list_contact_apps().select_for_update().get(id=app.id)
    secret_value = changes.pop("secret_header_value", None)
    secret_name = changes.pop("secret_header_name", None)
    is_active = changes.pop("is_active", None)
    changed = _apply_app(app, changes)
    changed += config.apply_secret_and_active(
        app, secret_name=secret_name, secret_value=secret_value, is_active=is_active
    )
    if not changed:
        return app
    config.save_named(app)  # a new updated_at: the cache key changes with it
    config.record_change(
        AuditAction.INTEGRATION_UPDATED, actor, app, "contact_app", changed=sorted(set(changed))
    )
    return app


@transaction.atomic
def delete_contact_app(*, app: ContactApp, actor: Membership | None) -> None:
    """Delete a contact app. Raises PermissionDenied."""
    if actor is not None:
        permissions.require(actor, Capability.MANAGE_SETTINGS)
    config.record_change(AuditAction.INTEGRATION_DELETED, actor, app, "contact_app")
    app.delete()


class AppState:
    OK = "ok"
    NOT_FOUND = "not_found"
    ERROR = "error"


@dataclass
class AppView:
    """What a contact app shows for a contact: `state` ok (with `rows`), not_found or
    error (`error` in words); `stale` when the rows are an older answer shown because a
    refresh failed; when the answer was fetched, and whether it came from the cache."""

    app_id: str
    name: str
    state: str
    rows: list[tuple[str, str]]
    error: str
    fetched_at: datetime.datetime | None
    status: int | None = None
    stale: bool = False
    cached: bool = False
    # What a cached answer was fetched for: the app's version and the contact's values.
    # An answer for another version or other values (the contact renamed, or erased) is
    # never shown again.
    fetched_for: str = ""

    @property
    def field_list(self) -> list[dict[str, str]]:
        return [{"name": label, "value": value} for label, value in self.rows]


def contact_values(contact: Contact) -> dict[str, str]:
    """The placeholder values of a contact app."""
    return {
        "contact.email": contact.email,
        "contact.name": contact.name,
        "contact.id": str(contact.id),
        "company.name": contact.company.name if contact.company else "",
    }


def cache_keys(app_id: Any, contact_id: Any) -> tuple[str, str]:
    """The cache keys of an app's answers for a contact: the last good answer and the last
    failure. They name no version, so that an erasure can delete them all by name."""
    key = f"integrations:app:{require_tenant_id()}:{app_id}:{contact_id}"
    return key, f"{key}:failed"


def _fetched_for(app: ContactApp, values: dict[str, str]) -> str:
    version = int(app.updated_at.timestamp() * 1000)
    digest = hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()
    return f"{version}:{digest}"


def forget_contact_answers(*, contact_ids: list[Any]) -> int:
    """Delete every contact app's cached answers for these contacts (an erasure): nothing
    the apps answered about them stays in the cache. Returns the number of keys named."""
    keys = [
        key
        for app_id in selectors.list_contact_apps().values_list("id", flat=True)
        for contact_id in contact_ids
        for key in cache_keys(app_id, contact_id)
    ]
    if keys:
        cache.delete_many(keys)
    return len(keys)


def display_rows(app: ContactApp, document: Any) -> tuple[str, list[tuple[str, str]], str]:
    """(state, rows, error) for an answer's JSON: the chosen fields with their labels, or
    every top-level key; a list answer shows its first record (an empty list: not found)."""
    record = document
    if isinstance(document, list):
        if not document:
            return AppState.NOT_FOUND, [], ""
        record = document[0]
    if not isinstance(record, dict):
        return AppState.ERROR, [], "the answer is not a JSON object"
    rows: list[tuple[str, str]]
    if app.fields:
        rows = [
            (label, templating.scalar_text(templating.find(record, path))[:1000])
            for path, label in app.fields
        ]
    else:
        rows = [
            (str(key)[:100], templating.scalar_text(value)[:1000])
            for key, value in list(record.items())[:MAX_ROWS]
        ]
    return AppState.OK, rows, ""


def _fetch(app: ContactApp, values: dict[str, str]) -> AppView:
    now = timezone.now()

    status: int | None = None

    def view(state: str, rows: list[tuple[str, str]] | None = None, error: str = "") -> AppView:
        return AppView(
            str(app.id),
            app.name,
            state,
            rows or [],
            error,
            now,
            status,
            fetched_for=_fetched_for(app, values),
        )

    try:
        headers = config.build_headers(
            app.headers_template,
            app.secret_header_name,
            app.secret_header_value_encrypted,
            values,
        )
    except crypto.DecryptionFailed:
        return view(AppState.ERROR, error="the secret cannot be read: an admin enters it again")
    try:
        answer = client.call(
            "GET",
            templating.render_url(app.url_template, values),
            headers=headers,
            body=None,
            timeout=float(min(app.timeout_seconds, config.MAX_TIMEOUT_SECONDS)),
        )
    except (outbound_http.OutboundTargetRefused, outbound_http.OutboundHostNotFound) as error:
        return view(AppState.ERROR, error=str(error))
    status = answer.status
    if answer.status == 404:
        return view(AppState.NOT_FOUND)
    if answer.error:
        return view(AppState.ERROR, error=answer.error)
    if not answer.is_json:
        return view(AppState.ERROR, error="the answer is not JSON")
    state, rows, problem = display_rows(app, answer.document)
    return view(state, rows, problem)


@dataclass
class PendingFetch:
    """A contact app to ask (the cache had no usable answer), with everything the asking
    needs read already: complete_fetch uses no database."""

    app: ContactApp
    values: dict[str, str]
    key: str
    failed_key: str
    previous: AppView | None


def look_up_contact_app(
    *, app: ContactApp, contact: Contact, retry: bool = False
) -> AppView | PendingFetch:
    """What the app shows for the contact from the cache, or the fetch to make. From the
    cache while it is fresh (the app's cache time); after a failed fetch the last good
    answer is shown as stale (up to a day) and the app is not asked again for
    FAILED_FETCH_SECONDS (unless `retry`: someone pressed "Try again"). Reads the contact
    (and its company), so it runs inside the tenant's context."""
    values = contact_values(contact)
    fetched_for = _fetched_for(app, values)
    key, failed_key = cache_keys(app.id, contact.id)
    now = timezone.now()

    def usable(entry: Any) -> AppView | None:
        if isinstance(entry, AppView) and entry.fetched_for == fetched_for:
            return entry
        return None

    previous = usable(cache.get(key))
    fresh_for = datetime.timedelta(seconds=app.cache_seconds)
    if previous is not None and previous.fetched_at and now - previous.fetched_at < fresh_for:
        previous.cached = True
        return previous
    failure = None if retry else usable(cache.get(failed_key))
    failed_for = datetime.timedelta(seconds=FAILED_FETCH_SECONDS)
    if failure is not None and failure.fetched_at and now - failure.fetched_at < failed_for:
        if previous is not None:
            previous.stale, previous.cached, previous.error = True, True, failure.error
            return previous
        failure.cached = True
        return failure
    return PendingFetch(app, values, key, failed_key, previous)


def complete_fetch(pending: PendingFetch) -> AppView:
    """Ask the app (up to its time limit) and cache what it answered. Uses no database, so
    a view calls it after its transaction has ended (a slow CRM holds no transaction)."""
    fetched = _fetch(pending.app, pending.values)
    previous = pending.previous
    if fetched.state == AppState.ERROR:
        cache.set(pending.failed_key, fetched, FAILED_FETCH_SECONDS)
        if previous is not None:
            previous.stale, previous.cached, previous.error = True, True, fetched.error
            return previous
        return fetched
    cache.set(pending.key, fetched, pending.app.cache_seconds + STALE_SECONDS)
    return fetched


def fetch_contact_app(*, app: ContactApp, contact: Contact, retry: bool = False) -> AppView:
    """What the app shows for the contact (look_up_contact_app, then complete_fetch when
    the cache had no answer), in one step: for callers that hold no long transaction."""
    found = look_up_contact_app(app=app, contact=contact, retry=retry)
    return complete_fetch(found) if isinstance(found, PendingFetch) else found


def start_contact_app_trial(
    *, app: ContactApp, actor: Membership | None, contact_email: str = ""
) -> Callable[[], config.TrialOutcome]:
    """Record a test of the app (audit log); the function returned fetches it with sample
    values (the contact email given, when one is) without the cache and says what it would
    show. That function uses no database, so a view calls it after its transaction has
    ended. Raises PermissionDenied."""
    if actor is not None:
        permissions.require(actor, Capability.MANAGE_SETTINGS)
    config.record_change(AuditAction.INTEGRATION_TESTED, actor, app, "contact_app")
    values = dict(templating.CONTACT_SAMPLE)
    if contact_email:
        values["contact.email"] = contact_email.strip()[:254]

    def run() -> config.TrialOutcome:
        started = timezone.now()
        fetched = _fetch(app, values)
        milliseconds = int((timezone.now() - started).total_seconds() * 1000)
        return config.TrialOutcome(
            status=fetched.status,
            milliseconds=milliseconds,
            error=fetched.error
            or (
                "not found (the server answered 404)" if fetched.state == AppState.NOT_FOUND else ""
            ),
            excerpt="",
            rows=fetched.rows,
        )

    return run


def try_contact_app(
    *, app: ContactApp, actor: Membership | None, contact_email: str = ""
) -> config.TrialOutcome:
    """start_contact_app_trial and its fetch in one step. Raises PermissionDenied."""
    return start_contact_app_trial(app=app, actor=actor, contact_email=contact_email)()
