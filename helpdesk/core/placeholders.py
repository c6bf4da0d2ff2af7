"""`{{ contact.first_name }}`-style placeholders for admin-written mail templates.

Deliberately not the Django template engine: only the names in the context are replaced,
nothing is evaluated, so a template cannot reach attributes, settings or other tenants.
"""

from __future__ import annotations

import functools
import re

PLACEHOLDER = re.compile(r"{{\s*(.*?)\s*}}", re.DOTALL)
KNOWN = (
    "contact.name",
    "contact.first_name",
    "contact.email",
    "ticket.number",
    "ticket.subject",
    "ticket.status",
    "ticket.priority",
    "ticket.tracking_link",
    "department.name",
    "tenant.name",
    "mailbox.address",
    "agent.name",
    "agent.signature",
    "reply.body",
    "satisfaction.good_link",
    "satisfaction.okay_link",
    "satisfaction.bad_link",
)


class UnknownPlaceholder(ValueError):
    def __init__(self, names: list[str]) -> None:
        self.names = names
        super().__init__(
            "unknown placeholder"
            + ("s" if len(names) > 1 else "")
            + ": "
            + ", ".join("{{ " + n + " }}" for n in names)
        )


def names_used(template: str) -> set[str]:
    return set(PLACEHOLDER.findall(template))


def unknown_placeholders(template: str) -> list[str]:
    return list(_unknown_placeholders(template))


@functools.lru_cache(maxsize=1024)
def _unknown_placeholders(template: str) -> tuple[str, ...]:
    """Remembered: every email checks its template's wording again (a batch's hundred
    acknowledgements, the same few templates), and a template's text is all it depends on."""
    return tuple(sorted(name for name in names_used(template) if name not in KNOWN))


NO_AGENT_YET = "{{ agent.name }} is always empty in an acknowledgement: no agent has answered yet."


def render(template: str, values: dict[str, str]) -> str:
    """Replace known placeholders; raises UnknownPlaceholder for any other."""
    unknown = unknown_placeholders(template)
    if unknown:
        raise UnknownPlaceholder(unknown)
    return PLACEHOLDER.sub(lambda match: values.get(match.group(1), ""), template)


# In an agent's reply only these are filled in: the rest have no value there.
MESSAGE_PLACEHOLDERS = frozenset(KNOWN) - {
    "reply.body",
    "satisfaction.good_link",
    "satisfaction.okay_link",
    "satisfaction.bad_link",
}


def fill_typed(text: str, values: dict[str, str]) -> str:
    """Placeholders an agent typed into a reply, filled in; anything else between braces
    stays as written (a reply may well quote a template or code)."""
    if "{{" not in text:
        return text

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        return values[name] if name in MESSAGE_PLACEHOLDERS and name in values else match.group(0)

    return PLACEHOLDER.sub(value, text)
