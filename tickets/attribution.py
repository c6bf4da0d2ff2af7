"""Which workflow rule is acting now, so that what it changes names it.

Rules (automation.rules) change tickets through the ticket services with `actor=None`, like
the system. While one acts, `acting_rule(...)` holds its id and name: `record_event` adds
`"rule": {"id", "name"}` to each event it writes, the messages a rule writes (a note, a
reply from a template) carry the same marker in `Message.event`, and `send_ticket_changed`
tells receivers `by_rule=True`, so that automation does not run rules again for changes
rules made (the loop guard) while SLA clocks still follow them.

A context variable, not an argument: the marker must reach every service a rule's action
calls (update_ticket calls assign_ticket and change_status, which write their own events)
without adding a parameter to each of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ActingRule:
    id: str
    name: str


_acting: ContextVar[ActingRule | None] = ContextVar("acting_rule", default=None)


@contextmanager
def acting_rule(rule_id: object, name: str) -> Iterator[ActingRule]:
    """Within the block, ticket changes are the rule's (see the module docstring)."""
    rule = ActingRule(id=str(rule_id), name=name)
    token = _acting.set(rule)
    try:
        yield rule
    finally:
        _acting.reset(token)


def current_rule() -> ActingRule | None:
    return _acting.get()


def rule_marker() -> dict[str, Any]:
    """`{"rule": {"id", "name"}}` while a rule acts, else `{}`: merged into event data."""
    rule = _acting.get()
    return {"rule": {"id": rule.id, "name": rule.name}} if rule is not None else {}
