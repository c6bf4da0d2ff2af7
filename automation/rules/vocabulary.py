"""What a rule may say: its conditions `{"field", "operator", "value"}` and actions
`{"action", "value"}`, how each is checked, and how each reads on the admin page.

`clean_conditions` and `clean_actions` check the shape of every entry and return it in its
stored form; each error is an InvalidRule naming the entry ("Condition 2 (subject): …").
Which ids an entry names (`references`) is then checked against the tenant by the service
(`check_references`), so that nothing here reads the database.

Text conditions ("contains") match whole words or phrases, case-insensitively, in any
language: both sides are Unicode-normalised (NFKC) and case-folded, and a match counts only
where the characters before and after it are not letters, digits or combining marks
(`contains_phrase`). Scripts written without spaces between words (Chinese, Japanese, Thai,
…) have no word edges to find, so there a phrase matches anywhere. "matches" takes a
regular expression, checked for safety when saved (`compile_pattern`).
"""

from __future__ import annotations

import importlib
import re
import signal
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from automation.errors import InvalidRule
from helpdesk.core import placeholders
from helpdesk.core.errors import DomainError
from tickets.models import SlaMetric, TicketChannel, TicketPriority, TicketStatus
from tickets.ticket.services import MAX_TAG_LENGTH, normalize_tag

# The parser behind `re`, to look at a pattern's structure (no public API does).
_sre_parser: Any = importlib.import_module("re._parser")

MAX_CONDITIONS = 20
MAX_ACTIONS = 20
MAX_LIST = 50
MAX_TEXT = 200
MAX_PATTERN = 200
MAX_NOTE = 5000
# "matches" reads at most this much of a body: a regular expression on a whole mail
# archive pasted into a message costs time and says nothing more.
MAX_MATCHED_TEXT = 20_000
# A regular expression that takes longer than this on one text counts as no match.
PATTERN_SECONDS = 0.05
CUSTOM_FIELD_PREFIX = "custom_fields."


# --- The vocabulary --------------------------------------------------------------------

OPERATOR_LABELS = {
    "is": "is",
    "is_not": "is not",
    "in": "is one of",
    "not_in": "is none of",
    "contains": "contains",
    "not_contains": "does not contain",
    "matches": "matches",
    "not_matches": "does not match",
    "has": "has",
    "has_not": "does not have",
    "is_set": "is filled in",
    "not_set": "is empty",
    "inside": "inside",
    "outside": "outside",
}
CHOICE = ("is", "is_not", "in", "not_in")
REFERENCE = ("is", "is_not")
TEXT = ("contains", "not_contains", "matches", "not_matches")


@dataclass(frozen=True)
class ConditionField:
    name: str
    label: str
    operators: tuple[str, ...]
    value: str  # the kind of value, checked by _clean_condition_value
    help: str


CONDITION_FIELDS: dict[str, ConditionField] = {
    spec.name: spec
    for spec in (
        ConditionField(
            "channel", "Channel", CHOICE, "channel", f"One of {', '.join(TicketChannel.values)}."
        ),
        ConditionField("mailbox", "Mailbox", REFERENCE, "mailbox", "A mailbox id."),
        ConditionField(
            "recipient",
            "Recipient address",
            CHOICE,
            "email",
            "An address the customer's latest mail was sent to (To, Cc or envelope).",
        ),
        ConditionField(
            "sender_email",
            "Sender email",
            CHOICE,
            "email",
            "The address of the customer's latest message (the requester's at first).",
        ),
        ConditionField(
            "sender_domain",
            "Sender domain",
            CHOICE,
            "domain",
            "The domain of the sender's address, such as example.com (exactly).",
        ),
        ConditionField(
            "company", "Contact's company", REFERENCE, "company", "A company id; null: none."
        ),
        ConditionField(
            "subject",
            "Subject",
            TEXT,
            "text",
            "contains: whole words or a phrase, any case, any language; matches: a regular"
            " expression (case-insensitive).",
        ),
        ConditionField(
            "body",
            "Message text",
            TEXT,
            "text",
            "The customer's latest message; operators as for subject.",
        ),
        ConditionField("tag", "Tag", ("has", "has_not"), "tag", "A tag name."),
        ConditionField(
            "priority",
            "Priority",
            CHOICE,
            "priority",
            f"One of {', '.join(TicketPriority.values)}.",
        ),
        ConditionField(
            "status", "Status", CHOICE, "status", f"One of {', '.join(TicketStatus.values)}."
        ),
        ConditionField("department", "Department", REFERENCE, "department", "A department id."),
        ConditionField("type", "Ticket type", REFERENCE, "type", "A ticket type id; null: none."),
        ConditionField(
            "business_hours",
            "Business hours",
            ("inside", "outside"),
            "business_hours",
            "A business hours id; null: the hours of the SLA policy that applies to the ticket"
            " (none: around the clock, always inside).",
        ),
        ConditionField(
            "sla_missed",
            "SLA target missed",
            ("is",),
            "sla_metric",
            f"One of {', '.join(SlaMetric.values)}, or any. On the trigger sla_missed: the"
            " target just missed; otherwise: any target of the ticket missed so far.",
        ),
    )
}
CUSTOM_FIELD_CONDITION = ConditionField(
    CUSTOM_FIELD_PREFIX + "<key>",
    "Custom field",
    ("is", "is_not", "contains", "not_contains", "is_set", "not_set"),
    "custom",
    "A ticket custom field by key; the value as the field takes it (none for is_set,"
    " not_set). contains: whole words, as for subject.",
)


@dataclass(frozen=True)
class ActionSpec:
    name: str
    label: str
    value: str
    help: str


ACTIONS: dict[str, ActionSpec] = {
    spec.name: spec
    for spec in (
        ActionSpec("set_department", "Set department", "department", "A department id."),
        ActionSpec(
            "assign_to",
            "Assign to",
            "assignee",
            "A member id (an agent or admin). Not limited by the department's cap.",
        ),
        ActionSpec(
            "assign_by_department_mode",
            "Assign by the department's mode",
            "none",
            "null: round-robin or load-balanced, as the ticket's department is set up.",
        ),
        ActionSpec(
            "set_priority",
            "Set priority",
            "priority",
            f"One of {', '.join(TicketPriority.values)}.",
        ),
        ActionSpec(
            "set_status", "Set status", "status", f"One of {', '.join(TicketStatus.values)}."
        ),
        ActionSpec("set_type", "Set ticket type", "type", "A ticket type id; null: none."),
        ActionSpec("add_tags", "Add tags", "tags", "A list of tag names."),
        ActionSpec("remove_tags", "Remove tags", "tags", "A list of tag names."),
        ActionSpec(
            "set_custom_field",
            "Set custom field",
            "custom",
            'An object {"key", "value"}: a ticket custom field and its new value.',
        ),
        ActionSpec(
            "add_followers", "Add followers", "emails", "A list of email addresses to copy (Cc)."
        ),
        ActionSpec(
            "reply_with_template",
            "Reply with template",
            "template",
            "A shared canned response id: sent to the customer as an automatic reply (an"
            " out-of-hours auto-responder is such a rule).",
        ),
        ActionSpec(
            "add_note", "Add internal note", "note", "The note's text (placeholders allowed)."
        ),
        ActionSpec("notify_agent", "Notify agent", "member", "A member id."),
        ActionSpec(
            "notify_department",
            "Notify department",
            "department_or_own",
            "A department id; null: the ticket's department.",
        ),
        ActionSpec(
            "call_webhook",
            "Call webhook",
            "webhook",
            "A webhook id: the ticket is POSTed to it, signed, as a `rule.triggered` event"
            " (whatever events the webhook subscribes to).",
        ),
    )
}


def vocabulary_text() -> str:
    """The vocabulary in words, for the OpenAPI document."""
    lines = ["Conditions (field: operators — value):"]
    for spec in [*CONDITION_FIELDS.values(), CUSTOM_FIELD_CONDITION]:
        lines.append(f"- `{spec.name}`: {', '.join(spec.operators)} — {spec.help}")
    lines.append("")
    lines.append("Actions (action — value):")
    for action in ACTIONS.values():
        lines.append(f"- `{action.name}` — {action.help}")
    return "\n".join(lines)


def vocabulary_data() -> dict[str, Any]:
    """The vocabulary as data, for the rule builder on the admin page."""
    return {
        "conditions": [
            {
                "field": spec.name,
                "label": spec.label,
                "value": spec.value,
                "operators": [{"value": op, "label": OPERATOR_LABELS[op]} for op in spec.operators],
            }
            for spec in CONDITION_FIELDS.values()
        ],
        "custom_field_operators": [
            {"value": op, "label": OPERATOR_LABELS[op]} for op in CUSTOM_FIELD_CONDITION.operators
        ],
        "actions": [
            {"action": spec.name, "label": spec.label, "value": spec.value}
            for spec in ACTIONS.values()
        ],
    }


# --- Shape checks ----------------------------------------------------------------------


def _fail(where: str, problem: str) -> InvalidRule:
    return InvalidRule(f"{where}: {problem}")


def _uuid(where: str, value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise _fail(where, f"the value is a {what} id (a string).")
    try:
        return str(UUID(value.strip()))
    except ValueError:
        raise _fail(where, f"{value[:60]!r} is not a {what} id.") from None


def _choice(where: str, value: Any, choices: list[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        shown = repr(value)[:60]
        raise _fail(where, f"{shown} is not one of {', '.join(choices)}.")
    return value


def _text(where: str, value: Any, *, limit: int = MAX_TEXT) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(where, "the value is a non-empty text.")
    text = " ".join(value.split())
    if len(text) > limit:
        raise _fail(where, f"the text has at most {limit} characters.")
    if "\x00" in text:
        raise _fail(where, "the text contains a character that cannot be stored.")
    return text


def _storable(where: str, value: Any) -> None:
    """A cleaned value that PostgreSQL's jsonb can hold: no NUL in any of its texts (regular
    expressions, tags, notes and custom values are not all cleaned as _text)."""
    texts = value if isinstance(value, list) else [value]
    if isinstance(value, dict):
        texts = list(value.values())
    if any(isinstance(text, str) and "\x00" in text for text in texts):
        raise _fail(where, "the text contains a character that cannot be stored.")


def _email(where: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _fail(where, "the value is an email address.")
    address = value.strip().lower()
    try:
        validate_email(address)
    except ValidationError:
        raise _fail(where, f"{value[:80]!r} is not an email address.") from None
    return address


_DOMAIN = re.compile(r"^(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+[^\W\d_]{2,63}$")


def _domain(where: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _fail(where, "the value is a domain such as example.com.")
    domain = value.strip().lower().lstrip("@").rstrip(".")
    if len(domain) > 253 or not _DOMAIN.match(domain):
        raise _fail(where, f"{value[:80]!r} is not a domain such as example.com.")
    return domain


def _tag(where: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _fail(where, "a tag is a text.")
    if len(" ".join(value.split())) > MAX_TAG_LENGTH:
        raise _fail(where, f"a tag has at most {MAX_TAG_LENGTH} characters.")
    tag = normalize_tag(value)
    if not tag:
        raise _fail(where, "a tag needs a name.")
    return tag


def _list(where: str, value: Any, clean: Callable[[str, Any], str]) -> list[str]:
    if not isinstance(value, list) or not value:
        raise _fail(where, "the value is a non-empty list.")
    if len(value) > MAX_LIST:
        raise _fail(where, f"the list has at most {MAX_LIST} entries.")
    return list(dict.fromkeys(clean(where, item) for item in value))


def _by_operator(
    where: str, operator: str, value: Any, clean: Callable[[str, Any], str]
) -> str | list[str]:
    """One value for is / is_not, a list for in / not_in."""
    if operator in {"in", "not_in"}:
        return _list(where, value, clean)
    return clean(where, value)


_VALUE_CHECKS: dict[str, Callable[[str, Any], str]] = {
    "channel": lambda where, v: _choice(where, v, TicketChannel.values),
    "priority": lambda where, v: _choice(where, v, TicketPriority.values),
    "status": lambda where, v: _choice(where, v, TicketStatus.values),
    "email": _email,
    "domain": _domain,
}
# References that may be null, and what null means.
_NULLABLE = {"company", "type", "business_hours"}


def _clean_condition_value(where: str, spec: ConditionField, operator: str, value: Any) -> Any:
    kind = spec.value
    if kind in _VALUE_CHECKS:
        return _by_operator(where, operator, value, _VALUE_CHECKS[kind])
    if kind in {"mailbox", "department", "company", "type", "business_hours"}:
        if value is None and kind in _NULLABLE:
            return None
        return _uuid(where, value, kind.replace("_", " "))
    if kind == "text":
        if operator in {"matches", "not_matches"}:
            if not isinstance(value, str) or not value.strip():
                raise _fail(where, "the value is a regular expression.")
            compile_pattern(value, where=where)
            return value
        return _text(where, value)
    if kind == "tag":
        return _tag(where, value)
    if kind == "sla_metric":
        return _choice(where, value, [*SlaMetric.values, "any"])
    raise _fail(where, "unknown kind of value.")  # pragma: no cover - the table is closed


def clean_conditions(conditions: Any) -> list[dict[str, Any]]:
    """The conditions in their stored form. Raises InvalidRule naming the first wrong one.
    Custom field values are checked by `check_custom_fields`."""
    if conditions is None:
        return []
    if not isinstance(conditions, list):
        raise InvalidRule("Conditions are a list of {field, operator, value}.")
    if len(conditions) > MAX_CONDITIONS:
        raise InvalidRule(f"A rule has at most {MAX_CONDITIONS} conditions.")
    cleaned = []
    for number, entry in enumerate(conditions, start=1):
        where = f"Condition {number}"
        if not isinstance(entry, dict):
            raise _fail(where, "each condition is an object {field, operator, value}.")
        extra = sorted(set(entry) - {"field", "operator", "value"})
        if extra:
            raise _fail(where, f"unknown key {extra[0]!r}; a condition has field, operator, value.")
        name = entry.get("field")
        if not isinstance(name, str) or not name:
            raise _fail(where, "the field is missing.")
        where = f"Condition {number} ({name[:60]})"
        spec = condition_spec(name)
        if spec is None:
            known = ", ".join([*CONDITION_FIELDS, CUSTOM_FIELD_PREFIX + "<key>"])
            raise _fail(where, f"unknown field; the fields are {known}.")
        operator = entry.get("operator")
        if operator not in spec.operators:
            raise _fail(
                where,
                f"the operator {str(operator)[:40]!r} does not apply; use one of"
                f" {', '.join(spec.operators)}.",
            )
        value = entry.get("value")
        if spec.value == "custom":
            if operator in {"is_set", "not_set"}:
                if value not in (None, ""):
                    raise _fail(where, f"{operator} takes no value.")
                value = None
            elif value is None or isinstance(value, dict | list):
                raise _fail(where, "the value is a single value of the field.")
        else:
            value = _clean_condition_value(where, spec, operator, value)
        _storable(where, value)
        cleaned.append({"field": name, "operator": operator, "value": value})
    return cleaned


def condition_spec(name: str) -> ConditionField | None:
    if name in CONDITION_FIELDS:
        return CONDITION_FIELDS[name]
    key = name.removeprefix(CUSTOM_FIELD_PREFIX)
    if name.startswith(CUSTOM_FIELD_PREFIX) and re.fullmatch(r"[-a-zA-Z0-9_]{1,40}", key):
        return CUSTOM_FIELD_CONDITION
    return None


def clean_actions(actions: Any) -> list[dict[str, Any]]:
    """The actions in their stored form. Raises InvalidRule naming the first wrong one."""
    if not isinstance(actions, list) or not actions:
        raise InvalidRule("A rule needs at least one action: a list of {action, value}.")
    if len(actions) > MAX_ACTIONS:
        raise InvalidRule(f"A rule has at most {MAX_ACTIONS} actions.")
    cleaned = []
    for number, entry in enumerate(actions, start=1):
        where = f"Action {number}"
        if not isinstance(entry, dict):
            raise _fail(where, "each action is an object {action, value}.")
        extra = sorted(set(entry) - {"action", "value"})
        if extra:
            raise _fail(where, f"unknown key {extra[0]!r}; an action has action and value.")
        name = entry.get("action")
        if not isinstance(name, str) or name not in ACTIONS:
            raise _fail(
                where,
                f"{str(name)[:60]!r} is not an action; the actions are {', '.join(ACTIONS)}.",
            )
        where = f"Action {number} ({name})"
        value = _clean_action_value(where, ACTIONS[name], entry.get("value"))
        _storable(where, value)
        cleaned.append({"action": name, "value": value})
    return cleaned


def _clean_action_value(where: str, spec: ActionSpec, value: Any) -> Any:
    kind = spec.value
    ids = {
        "department": "department",
        "assignee": "member",
        "member": "member",
        "template": "canned response",
        "type": "ticket type",
        "department_or_own": "department",
        "webhook": "webhook",
    }
    if kind in ids:
        if value is None and kind in {"type", "department_or_own"}:
            return None
        return _uuid(where, value, ids[kind])
    if kind == "none":
        if value not in (None, "", {}):
            raise _fail(where, "this action takes no value (null).")
        return None
    if kind == "priority":
        return _choice(where, value, TicketPriority.values)
    if kind == "status":
        return _choice(where, value, TicketStatus.values)
    if kind == "tags":
        return _list(where, value, _tag)
    if kind == "emails":
        return _list(where, value, _email)
    if kind == "custom":
        if not isinstance(value, dict) or set(value) != {"key", "value"}:
            raise _fail(where, 'the value is an object {"key", "value"}.')
        key = value["key"]
        if not isinstance(key, str) or not re.fullmatch(r"[-a-zA-Z0-9_]{1,40}", key):
            raise _fail(where, "the key names a ticket custom field.")
        if isinstance(value["value"], dict | list):
            raise _fail(where, "the field takes a single value.")
        return {"key": key, "value": value["value"]}
    if kind == "note":
        if not isinstance(value, str) or not value.strip():
            raise _fail(where, "the value is the note's text.")
        if len(value) > MAX_NOTE:
            raise _fail(where, f"a note has at most {MAX_NOTE} characters.")
        unknown = placeholders.unknown_placeholders(value)
        if unknown:
            raise _fail(where, str(placeholders.UnknownPlaceholder(unknown)))
        return value
    raise _fail(where, "unknown kind of value.")  # pragma: no cover - the table is closed


# --- References --------------------------------------------------------------------------


@dataclass
class Refs:
    """Ids an entry names, by kind; and for error messages, which entry named each."""

    ids: dict[str, set[str]] = field(default_factory=dict)
    named_by: dict[tuple[str, str], str] = field(default_factory=dict)

    def add(self, kind: str, value: Any, where: str) -> None:
        if value is None:
            return
        self.ids.setdefault(kind, set()).add(str(value))
        self.named_by.setdefault((kind, str(value)), where)


CONDITION_REFERENCE_KINDS = {
    "mailbox": "mailbox",
    "department": "department",
    "company": "company",
    "type": "type",
    "business_hours": "business_hours",
}
ACTION_REFERENCE_KINDS = {
    "set_department": "department",
    "assign_to": "assignee",
    "set_type": "type",
    "reply_with_template": "template",
    "notify_agent": "member",
    "notify_department": "department",
    "call_webhook": "webhook",
}


def references(
    conditions: Iterable[Mapping[str, Any]], actions: Iterable[Mapping[str, Any]]
) -> Refs:
    """Every id the conditions and actions name (in stored form), by kind."""
    refs = Refs()
    for number, condition in enumerate(conditions, start=1):
        kind = CONDITION_REFERENCE_KINDS.get(condition["field"])
        if kind:
            refs.add(kind, condition["value"], f"Condition {number} ({condition['field']})")
    for number, action in enumerate(actions, start=1):
        kind = ACTION_REFERENCE_KINDS.get(action["action"])
        if kind:
            refs.add(kind, action["value"], f"Action {number} ({action['action']})")
    return refs


REFERENCE_WORDS = {
    "mailbox": "mailbox",
    "department": "department",
    "company": "company",
    "type": "ticket type",
    "business_hours": "business hours",
    "assignee": "agent or admin",
    "member": "member",
    "template": "shared canned response",
    "webhook": "active webhook",
}


def check_references(refs: Refs, found: Mapping[str, Mapping[str, Any]]) -> None:
    """Raises InvalidRule for the first id not found in this tenant (`found`: the objects
    by kind and id, as the selectors loaded them)."""
    for kind, ids in sorted(refs.ids.items()):
        for ref in sorted(ids):
            if ref not in found.get(kind, {}):
                where = refs.named_by[(kind, ref)]
                raise _fail(where, f"there is no {REFERENCE_WORDS[kind]} {ref} in this help desk.")


def check_custom_fields(
    conditions: list[dict[str, Any]],
    actions: list[dict[str, Any]],
    clean: Callable[[str, Any], Any],
    known: Iterable[str],
) -> None:
    """Custom field conditions and actions name an active ticket field, and their values
    are what the field takes: `clean(key, raw)` returns the stored value or raises a
    DomainError with the field's own message. Values are replaced by their cleaned form."""
    keys = set(known)
    for number, condition in enumerate(conditions, start=1):
        name = condition["field"]
        if not name.startswith(CUSTOM_FIELD_PREFIX):
            continue
        where = f"Condition {number} ({name})"
        key = name.removeprefix(CUSTOM_FIELD_PREFIX)
        if key not in keys:
            raise _fail(where, f"there is no active ticket custom field {key!r}.")
        if condition["operator"] in {"is_set", "not_set"}:
            continue
        if condition["operator"] in {"contains", "not_contains"}:
            condition["value"] = _text(where, condition["value"])
            continue
        condition["value"] = _custom_value(where, clean, key, condition["value"])
    for number, action in enumerate(actions, start=1):
        if action["action"] != "set_custom_field":
            continue
        where = f"Action {number} (set_custom_field)"
        key = action["value"]["key"]
        if key not in keys:
            raise _fail(where, f"there is no active ticket custom field {key!r}.")
        action["value"]["value"] = _custom_value(where, clean, key, action["value"]["value"])


def _custom_value(where: str, clean: Callable[[str, Any], Any], key: str, raw: Any) -> Any:
    try:
        return clean(key, raw)
    except DomainError as error:
        raise _fail(where, str(error)) from None


# --- Matching text ---------------------------------------------------------------------


def fold(text: str) -> str:
    """Text as compared: NFKC-normalised and case-folded (the German sharp s is ss, each
    Greek sigma the same letter)."""
    return unicodedata.normalize("NFKC", text).casefold()


def _is_word_char(char: str) -> bool:
    return char.isalnum() or char == "_" or unicodedata.category(char).startswith("M")


_UNSPACED_SCRIPTS = ("CJK", "HIRAGANA", "KATAKANA", "THAI", "LAO", "KHMER", "MYANMAR", "TIBETAN")


def _unspaced(char: str) -> bool:
    """A character of a script written without spaces between words: no word edge there."""
    return unicodedata.name(char, "").startswith(_UNSPACED_SCRIPTS)


@dataclass(frozen=True)
class Phrase:
    """A phrase to find as whole words (see the module docstring)."""

    folded: str
    edge_start: bool
    edge_end: bool

    @classmethod
    def of(cls, phrase: str) -> Phrase:
        folded = " ".join(fold(phrase).split())
        return cls(
            folded=folded,
            edge_start=bool(folded) and _is_word_char(folded[0]) and not _unspaced(folded[0]),
            edge_end=bool(folded) and _is_word_char(folded[-1]) and not _unspaced(folded[-1]),
        )

    def found_in(self, folded_text: str) -> bool:
        """In text already folded with `fold` and its whitespace runs made single spaces."""
        needle = self.folded
        if not needle:
            return False
        start = folded_text.find(needle)
        while start != -1:
            end = start + len(needle)
            before_ok = (
                not self.edge_start or start == 0 or not _is_word_char(folded_text[start - 1])
            )
            after_ok = (
                not self.edge_end or end == len(folded_text) or not _is_word_char(folded_text[end])
            )
            if before_ok and after_ok:
                return True
            start = folded_text.find(needle, start + 1)
        return False


def comparable(text: str) -> str:
    """Text ready for `Phrase.found_in`: folded, whitespace runs as single spaces."""
    return " ".join(fold(text).split())


def contains_phrase(text: str, phrase: str) -> bool:
    return Phrase.of(phrase).found_in(comparable(text))


# --- Regular expressions ---------------------------------------------------------------

_REPEATS = {"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"}
MAX_UNBOUNDED_REPEATS = 3
# A bounded repeat this large backtracks like an unbounded one.
LARGE_REPEAT = 100


def compile_pattern(pattern: str, *, where: str = "Pattern") -> re.Pattern[str]:
    """A case-insensitive regular expression an admin may use in "matches", refused with an
    InvalidRule when it is long or of a form that can take exponential time: back-
    references, a repeated group that itself repeats or has alternatives (`(a+)+`,
    `(a|ab)*`), or more than MAX_UNBOUNDED_REPEATS unbounded repeats. What remains runs on at
    most MAX_MATCHED_TEXT characters, and with a time limit where one can be set
    (`search`)."""
    if len(pattern) > MAX_PATTERN:
        raise _fail(where, f"a regular expression has at most {MAX_PATTERN} characters.")
    try:
        compiled = re.compile(pattern, re.IGNORECASE)
        parsed = _sre_parser.parse(pattern, re.IGNORECASE)
    except (re.error, RecursionError, OverflowError) as error:
        raise _fail(where, f"not a valid regular expression ({error}).") from None
    problem = _unsafe(list(parsed), inside_repeat=False, count=[0])
    if problem:
        raise _fail(where, f"the regular expression is refused: {problem}.")
    return compiled


def _unsafe(items: list[Any], *, inside_repeat: bool, count: list[int]) -> str:
    for op, av in items:
        name = str(op)
        if name in {"GROUPREF", "GROUPREF_EXISTS", "GROUPREF_IGNORE"}:
            return "back-references (\\1, (?(1)…)) are not supported"
        if name in _REPEATS:
            _low, high, body = av
            repeats = high == _sre_parser.MAXREPEAT or high > 1
            if repeats and inside_repeat:
                return "a repeated group may not repeat inside (write (ab)+, not (a+b)+)"
            if high == _sre_parser.MAXREPEAT or high > LARGE_REPEAT:
                count[0] += 1
                if count[0] > MAX_UNBOUNDED_REPEATS:
                    return f"at most {MAX_UNBOUNDED_REPEATS} unbounded repeats (+, *, {{n,}})"
            problem = _unsafe(list(body), inside_repeat=inside_repeat or repeats, count=count)
            if problem:
                return problem
        elif name == "BRANCH":
            if inside_repeat:
                return "a repeated group may not have alternatives (write [ab]+, not (a|b)+)"
            for branch in av[1]:
                problem = _unsafe(list(branch), inside_repeat=inside_repeat, count=count)
                if problem:
                    return problem
        elif name == "SUBPATTERN":
            problem = _unsafe(list(av[3]), inside_repeat=inside_repeat, count=count)
            if problem:
                return problem
        elif name in {"ASSERT", "ASSERT_NOT"}:
            problem = _unsafe(list(av[1]), inside_repeat=inside_repeat, count=count)
            if problem:
                return problem
        elif name == "ATOMIC_GROUP":
            problem = _unsafe(list(av), inside_repeat=inside_repeat, count=count)
            if problem:
                return problem
    return ""


class _PatternTimeout(Exception):
    pass


# Whether a pattern is being matched right now: a timer's signal that arrives just after
# the match finished (before the timer was stopped) is ignored rather than raised elsewhere.
_matching = threading.Event()


def _raise_timeout(signum: int, frame: Any) -> None:
    if _matching.is_set():
        raise _PatternTimeout()


@contextmanager
def pattern_timer() -> Iterator[None]:
    """Within the block, `search` may stop a slow pattern (the main thread only: Python
    delivers signals there). Python's matcher checks for signals as it goes, so a timer's
    signal interrupts it. The handler and timer in use before (pytest-timeout's, say) are
    put back afterwards, the timer with what was left of it. A run of rules enters this
    once for its batch; each `search` then only starts and stops the timer."""
    if threading.current_thread() is not threading.main_thread() or _timer_is_ours():
        yield
        return
    previous_handler = signal.signal(signal.SIGALRM, _raise_timeout) or signal.SIG_DFL
    previous_delay, previous_interval = signal.setitimer(signal.ITIMER_REAL, 0)
    started = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous_handler)
        if previous_delay:
            left = previous_delay - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(left, 0.001), previous_interval)


def _timer_is_ours() -> bool:
    return signal.getsignal(signal.SIGALRM) is _raise_timeout


def search(compiled: re.Pattern[str], text: str) -> bool | None:
    """Whether the pattern is found in (the start of) `text`; None when it ran out of time
    (PATTERN_SECONDS, inside `pattern_timer` in the main thread). Elsewhere (a threaded
    development server) the pattern's checked form and the length cap must do."""
    text = text[:MAX_MATCHED_TEXT]
    if threading.current_thread() is not threading.main_thread():
        return compiled.search(text) is not None
    if not _timer_is_ours():
        with pattern_timer():
            return search(compiled, text)
    _matching.set()
    signal.setitimer(signal.ITIMER_REAL, PATTERN_SECONDS)
    try:
        found = compiled.search(text) is not None
        _matching.clear()
        return found
    except _PatternTimeout:
        return None
    finally:
        _matching.clear()
        signal.setitimer(signal.ITIMER_REAL, 0)
