"""Checking and storing what an admin configures for integrations and contact apps: names,
URL templates (http(s), no placeholder in the host, a host that may be called), headers
(the secret one stored encrypted), paths into an answer, numbers in range; the audit entry
of each change; the headers of a call."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.db import IntegrityError, transaction

from automation.errors import IntegrationNameTaken, IntegrationTargetRefused, InvalidIntegration
from automation.integrations import templating
from automation.models import ContactApp, ExternalTaskIntegration, IntegrationMethod
from helpdesk.core import crypto, outbound_http
from helpdesk.tenancy import audit
from helpdesk.tenancy.models import AuditAction, Membership

MIN_CACHE_SECONDS, MAX_CACHE_SECONDS = 60, 86400
MAX_TIMEOUT_SECONDS = 5
MAX_HEADERS = 20
MAX_FIELDS = 40
HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$")
FORBIDDEN_HEADERS = {"host", "content-length", "transfer-encoding", "connection", "te"}


# --- Checking what an admin typed ----------------------------------------------------------


def storable(text: str, what: str) -> str:
    """The text when the database can store it. Raises InvalidIntegration for a NUL
    character or a lone surrogate (PostgreSQL refuses both)."""
    if "\x00" in text:
        raise InvalidIntegration(f"The {what} contains a character that cannot be stored.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise InvalidIntegration(
            f"The {what} contains a character that cannot be stored."
        ) from error
    return text


def invalid(error: templating.TemplateError) -> InvalidIntegration:
    return InvalidIntegration(str(error))


def clean_name(name: Any) -> str:
    text = storable(" ".join(str(name or "").split()), "name")
    if not text:
        raise InvalidIntegration("The name is required.")
    if len(text) > 100:
        raise InvalidIntegration("The name is at most 100 characters.")
    return text


def clean_url_template(template: Any, allowed: dict[str, str], sample: dict[str, str]) -> str:
    """The URL template when it is an http(s) URL whose host has no placeholder and may be
    called. Raises InvalidIntegration, IntegrationTargetRefused."""
    text = storable(str(template or "").strip(), "URL")
    if not text:
        raise InvalidIntegration("The URL is required.")
    if len(text) > 2000:
        raise InvalidIntegration("The URL is at most 2000 characters.")
    try:
        templating.check_placeholders(text, allowed, what="URL")
    except templating.TemplateError as error:
        raise invalid(error) from error
    scheme, _, rest = text.partition("://")
    if scheme.lower() not in {"http", "https"} or not rest:
        raise InvalidIntegration("The URL must start with https:// or http://.")
    if "{{" in re.split(r"[/?#]", rest, maxsplit=1)[0]:
        raise InvalidIntegration("The URL's host may not hold a placeholder.")
    rendered = templating.render_url(text, sample)
    try:
        parts = urlsplit(rendered)
        parts.port  # noqa: B018 - reading it validates the port
    except ValueError as error:
        raise InvalidIntegration(f"The URL is not valid: {error}.") from error
    if not parts.hostname:
        raise InvalidIntegration("The URL has no host.")
    if parts.username or parts.password:
        raise InvalidIntegration(
            "The URL may not carry a user name or password; use the secret header."
        )
    check_target(rendered)
    return text


def check_target(url: str) -> None:
    try:
        outbound_http.check_url(url)
    except outbound_http.OutboundTargetRefused as error:
        raise IntegrationTargetRefused(str(error)) from error
    except outbound_http.OutboundHostNotFound as error:
        raise InvalidIntegration(str(error)) from error


def clean_header_name(name: Any) -> str:
    text = str(name or "").strip()
    if not HEADER_NAME.match(text):
        raise InvalidIntegration(f"{text[:100]!r} is not a header name.")
    if text.lower() in FORBIDDEN_HEADERS:
        raise InvalidIntegration(f"The {text} header is set by the help desk.")
    return text


def clean_headers(headers: Any, allowed: dict[str, str]) -> dict[str, str]:
    if headers in (None, ""):
        return {}
    if not isinstance(headers, dict):
        raise InvalidIntegration("The headers are an object of header names and values.")
    if len(headers) > MAX_HEADERS:
        raise InvalidIntegration(f"At most {MAX_HEADERS} headers.")
    clean: dict[str, str] = {}
    for name, value in headers.items():
        header = clean_header_name(name)
        text = storable(str(value if value is not None else ""), f"{header} header")
        if len(text) > 2000 or "\n" in text or "\r" in text:
            raise InvalidIntegration(f"The {header} header's value is one line of at most 2000.")
        try:
            templating.check_placeholders(text, allowed, what=f"{header} header")
        except templating.TemplateError as error:
            raise invalid(error) from error
        clean[header] = text
    return clean


def clean_secret(name: Any, value: Any) -> tuple[str, str]:
    """The secret header's name and value, both empty for none."""
    header = storable(str(name or "").strip(), "secret header")
    secret = storable(str(value or "").strip(), "secret")
    if not header:
        if secret:
            raise InvalidIntegration("Name the header the secret goes in (Authorization).")
        return "", ""
    header = clean_header_name(header)
    if len(secret) > 4000 or "\n" in secret or "\r" in secret:
        raise InvalidIntegration("The secret is one line of at most 4000 characters.")
    return header, secret


def clean_path(path: Any, what: str) -> str:
    text = storable(str(path or "").strip(), what)
    if len(text) > 200:
        raise InvalidIntegration(f"The {what} is at most 200 characters.")
    try:
        templating.check_path(text, what=what)
    except templating.TemplateError as error:
        raise invalid(error) from error
    return text


def clean_link_template(template: Any, id_path: str) -> str:
    text = storable(str(template or "").strip(), "link template")
    if not text:
        return ""
    if len(text) > 2000:
        raise InvalidIntegration("The link template is at most 2000 characters.")
    try:
        templating.check_placeholders(text, templating.LINK_PLACEHOLDERS, what="link template")
    except templating.TemplateError as error:
        raise invalid(error) from error
    if not id_path and "{{" in text:
        raise InvalidIntegration("A link template with {{id}} needs the id path.")
    if urlsplit(templating.render_url(text, {"id": "ABC-1"})).scheme not in {"http", "https"}:
        raise InvalidIntegration("The link template must start with https:// or http://.")
    return text


def clean_method(method: Any) -> str:
    text = str(method or "post").lower()
    if text not in IntegrationMethod.values:
        raise InvalidIntegration(
            f"The method is one of {', '.join(v.upper() for v in IntegrationMethod.values)}."
        )
    return text


def clean_fields(fields: Any) -> list[list[str]]:
    """[path, label] pairs (label defaults to the path)."""
    if fields in (None, ""):
        return []
    if not isinstance(fields, list):
        raise InvalidIntegration("The fields are a list of paths with labels.")
    if len(fields) > MAX_FIELDS:
        raise InvalidIntegration(f"At most {MAX_FIELDS} fields.")
    clean: list[list[str]] = []
    for item in fields:
        if isinstance(item, dict):
            path, label = item.get("path"), item.get("name", item.get("label"))
        elif isinstance(item, list | tuple) and 1 <= len(item) <= 2:
            path, label = item[0], item[1] if len(item) > 1 else ""
        else:
            raise InvalidIntegration("Each field is a path and an optional label.")
        field_path = clean_path(path, "field path")
        if not field_path:
            raise InvalidIntegration("A field needs its path.")
        clean_label = storable(" ".join(str(label or "").split())[:100], "label") or field_path
        clean.append([field_path, clean_label])
    return clean


def clean_number(value: Any, low: int, high: int, what: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError) as error:
        raise InvalidIntegration(f"The {what} is a whole number.") from error
    if not low <= number <= high:
        raise InvalidIntegration(f"The {what} is between {low} and {high}.")
    return number


def stored_secret(encrypted: str) -> str:
    try:
        return crypto.decrypt(encrypted)
    except crypto.DecryptionFailed:
        return ""


def apply_secret_and_active(
    row: ExternalTaskIntegration | ContactApp,
    *,
    secret_name: Any = None,
    secret_value: Any = None,
    is_active: Any = None,
) -> list[str]:
    """Apply an update's secret header and active flag to `row` (None keeps each; a
    secret value of "" removes the secret); the names of what changed."""
    changed: list[str] = []
    if secret_name is not None or secret_value is not None:
        keep = stored_secret(row.secret_header_value_encrypted)
        header, secret = clean_secret(
            row.secret_header_name if secret_name is None else secret_name,
            keep if secret_value is None else secret_value,
        )
        if header != row.secret_header_name:
            row.secret_header_name = header
            changed.append("secret_header_name")
        if secret_value is not None:
            row.secret_header_value_encrypted = crypto.encrypt(secret)
            changed.append("secret")
        elif not header:
            row.secret_header_value_encrypted = ""
    if is_active is not None and bool(is_active) != row.is_active:
        row.is_active = bool(is_active)
        changed.append("is_active")
    return changed


def record_change(
    action: AuditAction, actor: Membership | None, target: Any, kind: str, **details: Any
) -> None:
    audit.record_audit_event(
        action=action,
        actor=actor,
        target_type=kind,
        target_id=target.id,
        target_label=target.name,
        details=details,
    )


def save_named(row: ExternalTaskIntegration | ContactApp) -> None:
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError as error:
        if "name_uniq" in str(error):
            raise IntegrationNameTaken(f"There is already one named {row.name}.") from error
        raise


def build_headers(
    template: dict[str, str], secret_name: str, secret_encrypted: str, values: dict[str, str]
) -> dict[str, str]:
    headers = {name: templating.render_header(value, values) for name, value in template.items()}
    if secret_name and secret_encrypted:
        headers[secret_name] = crypto.decrypt(secret_encrypted)
    return headers


@dataclass
class TrialOutcome:
    """What a test call got: the status, time, the link or the fields found, or why not."""

    status: int | None
    milliseconds: int
    error: str
    excerpt: str
    external_id: str = ""
    url: str = ""
    rows: list[tuple[str, str]] = field(default_factory=list)
