"""Placeholders in an integration's templates, and reading the answer: `{{ticket.subject}}`
and the like, filled in three ways by where they stand, and dotted paths (or JSON pointers)
into the JSON a tool answers. Plain functions on strings: no database, no network.

A placeholder is a fixed name (PLACEHOLDERS); anything else between double braces is an
error when the template is saved, never silently left in. Values are escaped for their
place: percent-encoded in a URL (a subject with `/` or `?` stays one path segment or query
value), JSON-escaped in a body (a subject with quotes or a newline cannot break the JSON:
the template is checked to be valid JSON with sample values when it is saved), and with
line breaks removed in a header (no header can be smuggled in). Django's template engine
is not used: it would offer tags, filters and attribute lookups an admin does not need and
a template should not reach.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}")

TICKET_PLACEHOLDERS = {
    "ticket.number": "The ticket's number (123)",
    "ticket.subject": "The ticket's subject",
    "ticket.url": "The ticket's page in the help desk",
    "ticket.status": "open, waiting, on_hold, solved or closed",
    "ticket.priority": "low, normal, high or urgent",
    "contact.email": "The customer's email address",
    "contact.name": "The customer's name",
    "company.name": "The customer's company",
    "latest_message": "The text of the latest message from the customer or an agent",
    "agent.name": "The agent creating the task",
    "agent.email": "The agent's email address",
}
CONTACT_PLACEHOLDERS = {
    "contact.email": "The customer's email address",
    "contact.name": "The customer's name",
    "contact.id": "The customer's id in the help desk",
    "company.name": "The customer's company",
}
# Only in a task's link template: the created item's id found in the answer.
LINK_PLACEHOLDERS = {"id": "The created item's id (from the id path)"}

TICKET_SAMPLE = {
    "ticket.number": "123",
    "ticket.subject": 'A "quoted" subject\nwith a second line',
    "ticket.url": "https://example.com/tickets/123/",
    "ticket.status": "open",
    "ticket.priority": "normal",
    "contact.email": "ada@example.com",
    "contact.name": "Ada Lovelace",
    "company.name": "Analytical Engines",
    "latest_message": "Hello,\n\tthe \\ engine stopped.",
    "agent.name": "Grace Hopper",
    "agent.email": "grace@example.com",
}
CONTACT_SAMPLE = {
    "contact.email": "ada@example.com",
    "contact.name": "Ada Lovelace",
    "contact.id": "0190f7a2-0000-7000-8000-000000000000",
    "company.name": "Analytical Engines",
}

MAX_TEMPLATE = 20_000
MAX_VALUE = 10_000  # a latest message longer than this is cut (a body stays small)


class TemplateError(ValueError):
    """A template that names an unknown placeholder or would not make valid JSON."""


def placeholders_in(template: str) -> list[str]:
    return [match.group(1) for match in PLACEHOLDER.finditer(template)]


def check_placeholders(template: str, allowed: Iterable[str], *, what: str) -> None:
    """Raises TemplateError naming the first placeholder that is not allowed, or a stray
    `{{` that is no placeholder at all."""
    known = set(allowed)
    for name in placeholders_in(template):
        if name not in known:
            raise TemplateError(
                f"The {what} uses {{{{{name}}}}}, which is not a placeholder; use one of "
                + ", ".join(f"{{{{{k}}}}}" for k in sorted(known))
                + "."
            )
    if "{{" in PLACEHOLDER.sub("", template):
        raise TemplateError(f"The {what} has a '{{{{' that does not start a placeholder.")


def _fill(template: str, values: Mapping[str, Any], escape: Any) -> str:
    def replace(match: re.Match[str]) -> str:
        value = values.get(match.group(1), "")
        return str(escape(str(value if value is not None else "")[:MAX_VALUE]))

    return PLACEHOLDER.sub(replace, template)


def render_url(template: str, values: Mapping[str, Any]) -> str:
    """The URL with every value percent-encoded (nothing it holds can add a path, a query
    or a host)."""
    return _fill(template.strip(), values, lambda value: quote(value, safe=""))


def render_header(template: str, values: Mapping[str, Any]) -> str:
    """A header value: line breaks and other control characters become spaces."""
    return _fill(template, values, lambda value: re.sub(r"[\x00-\x1f\x7f]", " ", value)).strip()


def render_json_body(template: str, values: Mapping[str, Any]) -> str:
    """The body with every value JSON-escaped (written inside a JSON string:
    `"title": "{{ticket.subject}}"`). Raises TemplateError when the result is not JSON."""
    body = _fill(template, values, lambda value: json.dumps(value, ensure_ascii=False)[1:-1])
    try:
        json.loads(body)
    except ValueError as error:
        raise TemplateError(f"The body is not valid JSON once filled in: {error}.") from error
    return body


def check_body_template(template: str) -> None:
    """Raises TemplateError unless the body template is empty or valid JSON with sample
    values (subjects with quotes, new lines and backslashes included)."""
    if len(template) > MAX_TEMPLATE:
        raise TemplateError(f"The body template is at most {MAX_TEMPLATE} characters.")
    check_placeholders(template, TICKET_PLACEHOLDERS, what="body template")
    if template.strip():
        render_json_body(template, TICKET_SAMPLE)


# --- Reading the answer ------------------------------------------------------------------

PATH = re.compile(r"^(/([^/~]|~[01])*)+$|^[A-Za-z0-9_\-$@]+(\.[A-Za-z0-9_\-$@]+)*$")


def check_path(path: str, *, what: str) -> None:
    """Raises TemplateError unless `path` is empty, a dotted path (`data.html_url`,
    `items.0.key`) or a JSON pointer (`/data/html_url`)."""
    if path and not PATH.match(path):
        raise TemplateError(
            f"The {what} must be a dotted path like data.html_url or a JSON pointer like"
            " /data/html_url."
        )


def _steps(path: str) -> list[str]:
    if path.startswith("/"):
        return [step.replace("~1", "/").replace("~0", "~") for step in path[1:].split("/")]
    return path.split(".")


def find(document: Any, path: str) -> Any:
    """The value at `path` in the JSON document, or None when there is none."""
    current = document
    for step in _steps(path):
        if isinstance(current, dict):
            if step not in current:
                return None
            current = current[step]
        elif (
            isinstance(current, list)
            and step.isascii()
            and step.isdigit()
            and int(step) < len(current)
        ):
            current = current[int(step)]
        else:
            return None
    return current


def scalar_text(value: Any) -> str:
    """A JSON value as one line of text (objects and lists as compact JSON)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return str(value)
