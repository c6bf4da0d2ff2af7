"""What a tenant configures about its tickets: types, custom statuses, custom fields for
tickets, contacts and companies, the priority levels in use, open-it-and-you-own-it and
the satisfaction survey.

Reads return defaults when the tenant configured nothing; writes validate and raise
DomainErrors with a message an admin can act on.
"""

from __future__ import annotations

import datetime
import decimal
import math
import re
import zoneinfo
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.utils.text import slugify

from helpdesk.core import batching
from helpdesk.tenancy import audit, permissions
from helpdesk.tenancy.context import require_tenant_id
from helpdesk.tenancy.models import Membership
from helpdesk.tenancy.permissions import Capability
from tickets.errors import (
    ConfigurationInvalid,
    CustomFieldInvalid,
    CustomFieldNotFound,
    CustomStatusNotFound,
    TicketTypeNotFound,
)
from tickets.models import (
    AgentPreference,
    CustomField,
    CustomFieldTarget,
    CustomFieldType,
    CustomStatus,
    TicketPriority,
    TicketStatus,
    TicketType,
    WorkspaceSettings,
    WorkspaceSettingsRetentionAction,
)

DEFAULT_PRIORITIES = (
    TicketPriority.LOW,
    TicketPriority.NORMAL,
    TicketPriority.HIGH,
    TicketPriority.URGENT,
)
MAX_SELECT_OPTIONS = 200
MAX_POSITION = 32767  # PositiveSmallIntegerField
# Numbers stay exact in JSON and JavaScript (and far below Python's int-to-str limit).
MAX_NUMBER = decimal.Decimal(10) ** 15
# A survey asks about help given recently: at most 30 days after solving.
MAX_SURVEY_DELAY_HOURS = 720


# --- Workspace settings ----------------------------------------------------------------


@dataclass(frozen=True)
class Workspace:
    """Everything configured, active entries only: what every agent page reads. Cached per
    tenant (see `workspace()`); each write here drops the cached copy."""

    settings: WorkspaceSettings
    ticket_types: list[TicketType]
    custom_statuses: list[CustomStatus]
    custom_fields: dict[str, list[CustomField]]


CACHE_SECONDS = 600


def _cache_key() -> str:
    return f"workspace-config:{require_tenant_id()}"


# The outermost atomic block of the transaction that changed the configuration: until it
# commits, reads go to the database and are not cached (a rollback must not leave its rows
# in the cache). The block, not a flag: a transaction that rolled back leaves a block no
# later transaction has, so reads there use the cache again (a flag stayed set for good).
_changed_in_transaction: ContextVar[object | None] = ContextVar(
    "configuration_changed", default=None
)


def _outermost_block() -> object | None:
    return connection.atomic_blocks[0] if connection.atomic_blocks else None


def workspace() -> Workspace:
    """The tenant's configuration, from the cache when it is there (one query set per ten
    minutes per tenant instead of four per page)."""
    changed_in = _changed_in_transaction.get()
    if changed_in is not None and changed_in is _outermost_block():
        return _read_workspace()  # not cached: a rollback must not leave its rows there
    key = _cache_key()
    # Asked once per inbound batch: a miss is read and cached inside the question, so that
    # the batch remembers the rows, not the miss (which would read them for every ticket).
    current: Workspace = batching.remembered(key, lambda: _cached_workspace(key))
    return current


def _cached_workspace(key: str) -> Workspace:
    cached = cache.get(key)
    if isinstance(cached, Workspace):
        return cached
    current = _read_workspace()
    cache.set(key, current, CACHE_SECONDS)
    return current


def _read_workspace() -> Workspace:
    fields: dict[str, list[CustomField]] = {target: [] for target in CustomFieldTarget.values}
    for field in CustomField.objects.filter(is_active=True):
        fields[field.target].append(field)
    return Workspace(
        settings=WorkspaceSettings.objects.first() or WorkspaceSettings(),
        ticket_types=list(TicketType.objects.filter(is_active=True)),
        custom_statuses=list(CustomStatus.objects.filter(is_active=True)),
        custom_fields=fields,
    )


def _changed() -> None:
    """Drop the cached configuration now and again after the commit: a page that read the
    old rows while this transaction was open must not keep them in the cache."""
    key = _cache_key()
    cache.delete(key)
    _changed_in_transaction.set(_outermost_block())

    def committed() -> None:
        cache.delete(key)
        _changed_in_transaction.set(None)

    transaction.on_commit(committed)


def get_settings() -> WorkspaceSettings:
    """The tenant's settings row, or an unsaved one holding the defaults."""
    return workspace().settings


def active_ticket_types() -> list[TicketType]:
    return workspace().ticket_types


def active_custom_statuses() -> list[CustomStatus]:
    return workspace().custom_statuses


@dataclass(frozen=True)
class PriorityLevel:
    value: str
    label: str


def priority_labels(settings: WorkspaceSettings | None = None) -> dict[str, str]:
    """The tenant's name for each level in use, by value."""
    return {level.value: level.label for level in priority_levels(settings)}


def priority_levels(settings: WorkspaceSettings | None = None) -> list[PriorityLevel]:
    """The levels in use, lowest first, with the tenant's labels."""
    chosen = (settings or get_settings()).priorities
    if not chosen:
        return [PriorityLevel(p.value, p.label) for p in DEFAULT_PRIORITIES]
    return [PriorityLevel(item["value"], item["label"]) for item in chosen]


MAX_AUTO_SOLVE_DAYS = 365
MAX_RETENTION_MONTHS = 240


@transaction.atomic
def update_settings(
    *,
    actor: Membership | None = None,
    auto_assign_on_open: bool | None = None,
    priorities: list[Mapping[str, str]] | None = None,
    satisfaction_enabled: bool | None = None,
    satisfaction_delay_hours: int | None = None,
    auto_solve_waiting_days: int | None = None,
    retention_months: int | None = None,
    retention_action: str | None = None,
) -> WorkspaceSettings:
    """Change the workspace settings (None: keep). Priorities: 3 to 5 levels of the scale,
    in scale order, `normal` among them (it is every ticket's default), each with a label.
    The survey delay is 0 (at once) to MAX_SURVEY_DELAY_HOURS hours. Retention: 0 (keep
    for ever) or 1 to MAX_RETENTION_MONTHS months, then anonymize or delete. Raises
    ConfigurationInvalid, PermissionDenied."""
    permissions.require(actor, Capability.MANAGE_SETTINGS)
    settings = WorkspaceSettings.objects.select_for_update().first() or WorkspaceSettings()
    if auto_assign_on_open is not None:
        settings.auto_assign_on_open = auto_assign_on_open
    if priorities is not None:
        settings.priorities = _clean_priorities(priorities)
    if satisfaction_enabled is not None:
        settings.satisfaction_enabled = satisfaction_enabled
    if satisfaction_delay_hours is not None:
        if not 0 <= satisfaction_delay_hours <= MAX_SURVEY_DELAY_HOURS:
            raise ConfigurationInvalid(
                f"The survey goes out 0 to {MAX_SURVEY_DELAY_HOURS} hours after solving."
            )
        settings.satisfaction_delay_hours = satisfaction_delay_hours
    if auto_solve_waiting_days is not None:
        if not 0 <= auto_solve_waiting_days <= MAX_AUTO_SOLVE_DAYS:
            raise ConfigurationInvalid(
                f"Waiting tickets are solved after 1 to {MAX_AUTO_SOLVE_DAYS} days (0: never)."
            )
        settings.auto_solve_waiting_days = auto_solve_waiting_days
    if retention_months is not None:
        if not 0 <= retention_months <= MAX_RETENTION_MONTHS:
            raise ConfigurationInvalid(
                f"Tickets are kept 1 to {MAX_RETENTION_MONTHS} months (0: for ever)."
            )
        settings.retention_months = retention_months
    if retention_action is not None:
        if retention_action not in WorkspaceSettingsRetentionAction.values:
            raise ConfigurationInvalid(
                "After the retention period tickets are anonymized or deleted."
            )
        settings.retention_action = retention_action
    settings.save()
    _changed()
    audit.record_settings_change(
        actor=actor, what="ticket_settings", target=None, label="ticket settings", change="saved"
    )
    return settings


def _clean_priorities(levels: list[Mapping[str, str]]) -> list[dict[str, str]]:
    if not 3 <= len(levels) <= 5:
        raise ConfigurationInvalid("Choose 3 to 5 priority levels.")
    scale = TicketPriority.values
    values = [str(level.get("value", "")) for level in levels]
    unknown = [v for v in values if v not in scale]
    if unknown:
        raise ConfigurationInvalid(f"Unknown priority {unknown[0]!r}; levels are {scale}.")
    if len(set(values)) != len(values):
        raise ConfigurationInvalid("Each priority level may appear once.")
    if TicketPriority.NORMAL not in values:
        raise ConfigurationInvalid("The levels must include normal, every new ticket's priority.")
    cleaned = []
    for value in sorted(values, key=scale.index):
        label = next(str(lv.get("label") or "") for lv in levels if lv.get("value") == value)
        cleaned.append({"value": value, "label": label.strip()[:40] or TicketPriority(value).label})
    return cleaned


def _check_position(position: int) -> None:
    # The column's range; outside it the database would refuse the row with a vague error.
    if not 0 <= position <= MAX_POSITION:
        raise ConfigurationInvalid(f"A position is a whole number from 0 to {MAX_POSITION}.")


# --- Ticket types ----------------------------------------------------------------------


def list_ticket_types(*, active_only: bool = False) -> QuerySet[TicketType]:
    types = TicketType.objects.all()
    return types.filter(is_active=True) if active_only else types


def get_ticket_type(type_id: UUID | str) -> TicketType:
    ticket_type = TicketType.objects.filter(id=type_id).first()
    if ticket_type is None:
        raise TicketTypeNotFound(type_id=str(type_id))
    return ticket_type


@transaction.atomic
def save_ticket_type(
    *,
    name: str,
    ticket_type: TicketType | None = None,
    is_active: bool = True,
    position: int = 0,
    actor: Membership | None = None,
) -> TicketType:
    """Define or change a ticket type. Raises ConfigurationInvalid, PermissionDenied."""
    permissions.require(actor, Capability.MANAGE_SETTINGS)
    name = " ".join(name.split())[:60]
    if not name:
        raise ConfigurationInvalid("A ticket type needs a name.")
    _check_position(position)
    ticket_type = ticket_type or TicketType()
    ticket_type.name, ticket_type.is_active, ticket_type.position = name, is_active, position
    try:
        with transaction.atomic():
            ticket_type.save()
        _changed()
    except IntegrityError:
        raise ConfigurationInvalid(f"There is already a ticket type named {name!r}.") from None
    audit.record_settings_change(
        actor=actor, what="ticket_type", target=ticket_type, label=ticket_type.name, change="saved"
    )
    return ticket_type


# --- Custom statuses -------------------------------------------------------------------


def list_custom_statuses(*, active_only: bool = False) -> QuerySet[CustomStatus]:
    statuses = CustomStatus.objects.all()
    return statuses.filter(is_active=True) if active_only else statuses


def get_custom_statuses(status_ids: Iterable[UUID]) -> list[CustomStatus]:
    """Statuses by id, active or not."""
    return list(CustomStatus.objects.filter(id__in=list(status_ids)))


def get_custom_status(status_id: UUID | str) -> CustomStatus:
    status = CustomStatus.objects.filter(id=status_id).first()
    if status is None:
        raise CustomStatusNotFound(status_id=str(status_id))
    return status


@transaction.atomic
def save_custom_status(
    *,
    name: str,
    base_status: str,
    custom_status: CustomStatus | None = None,
    is_active: bool = True,
    position: int = 0,
    actor: Membership | None = None,
) -> CustomStatus:
    """Define or change a custom status. Raises ConfigurationInvalid, PermissionDenied."""
    permissions.require(actor, Capability.MANAGE_SETTINGS)
    name = " ".join(name.split())[:60]
    if not name:
        raise ConfigurationInvalid("A status needs a name.")
    if base_status not in TicketStatus.values:
        raise ConfigurationInvalid(f"A status maps onto one of {TicketStatus.values}.")
    built_in = {label.casefold() for label in TicketStatus.labels} | set(TicketStatus.values)
    if name.casefold() in built_in:
        raise ConfigurationInvalid(f"{name!r} is a built-in status; give yours a name of its own.")
    _check_position(position)
    status = custom_status or CustomStatus()
    status.name, status.base_status = name, base_status
    status.is_active, status.position = is_active, position
    try:
        with transaction.atomic():
            status.save()
        _changed()
    except IntegrityError:
        raise ConfigurationInvalid(f"There is already a status named {name!r}.") from None
    audit.record_settings_change(
        actor=actor, what="custom_status", target=status, label=status.name, change="saved"
    )
    return status


# --- Custom fields ---------------------------------------------------------------------


def list_custom_fields(target: str, *, active_only: bool = True) -> list[CustomField]:
    if active_only:
        return list(workspace().custom_fields.get(target, []))
    return list(CustomField.objects.filter(target=target))


def get_custom_field(field_id: UUID | str) -> CustomField:
    field = CustomField.objects.filter(id=field_id).first()
    if field is None:
        raise CustomFieldNotFound(field_id=str(field_id))
    return field


@transaction.atomic
def save_custom_field(
    *,
    target: str,
    label: str,
    type: str,
    key: str = "",
    options: list[str] | None = None,
    is_required: bool = False,
    is_active: bool = True,
    position: int = 0,
    field: CustomField | None = None,
    actor: Membership | None = None,
) -> CustomField:
    """Define or change a field. Its key and type are fixed once created (values use them).
    Raises ConfigurationInvalid, PermissionDenied."""
    permissions.require(actor, Capability.MANAGE_SETTINGS)
    if target not in CustomFieldTarget.values:
        raise ConfigurationInvalid(f"A field belongs to one of {CustomFieldTarget.values}.")
    label = " ".join(label.split())[:80]
    if not label:
        raise ConfigurationInvalid("A field needs a label.")
    _check_position(position)
    if field is None:
        if type not in CustomFieldType.values:
            raise ConfigurationInvalid(f"A field's type is one of {CustomFieldType.values}.")
        key = slugify(key or label).replace("-", "_")[:40]
        if not key:
            raise ConfigurationInvalid("A field needs a key of letters, digits or underscores.")
        field = CustomField(target=target, key=key, type=type)
    elif type != field.type:
        raise ConfigurationInvalid("A field's type cannot change; add a new field instead.")
    elif key and key != field.key:
        raise ConfigurationInvalid("A field's key cannot change; add a new field instead.")
    cleaned_options = [" ".join(str(o).split())[:100] for o in options or []]
    cleaned_options = list(dict.fromkeys(o for o in cleaned_options if o))
    if field.type != CustomFieldType.SELECT:
        cleaned_options = []  # only a select field has choices
    if field.type == CustomFieldType.SELECT and not cleaned_options:
        raise ConfigurationInvalid("A select field needs at least one option.")
    if len(cleaned_options) > MAX_SELECT_OPTIONS:
        raise ConfigurationInvalid(f"A select field has at most {MAX_SELECT_OPTIONS} options.")
    same_label = CustomField.objects.filter(target=target, label__iexact=label)
    if same_label.exclude(id=field.id).exists():
        raise ConfigurationInvalid(f"There is already a {target} field labelled {label!r}.")
    field.label, field.options = label, cleaned_options
    field.is_required, field.is_active, field.position = is_required, is_active, position
    try:
        with transaction.atomic():
            field.save()
        _changed()
    except IntegrityError:
        raise ConfigurationInvalid(f"There is already a {target} field {field.key!r}.") from None
    audit.record_settings_change(
        actor=actor, what="custom_field", target=field, label=field.label, change="saved"
    )
    return field


def clean_custom_values(
    target: str,
    values: Mapping[str, Any],
    *,
    current: Mapping[str, Any] | None = None,
    fields: list[CustomField] | None = None,
) -> dict[str, Any]:
    """Validate `values` (key → raw value from a form or the API) against the tenant's active
    fields and merge them into `current`. Empty values remove a key. Raises
    CustomFieldInvalid naming the field."""
    fields = fields if fields is not None else list_custom_fields(target)
    by_key = {field.key: field for field in fields}
    unknown = sorted(set(values) - set(by_key))
    if unknown:
        raise CustomFieldInvalid(f"Unknown field {unknown[0]!r}.", field=unknown[0])
    merged = dict(current or {})
    for key, raw in values.items():
        value = _clean_value(by_key[key], raw)
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    for field in fields:
        if field.is_required and field.key in values and merged.get(field.key) in (None, ""):
            raise CustomFieldInvalid(f"{field.label} is required.", field=field.key)
    return merged


# A NUL or half a surrogate pair cannot be stored in PostgreSQL's text or jsonb.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _clean_value(field: CustomField, raw: Any) -> Any:
    if not (raw is None or isinstance(raw, str | int | float | bool)):
        raise CustomFieldInvalid(f"{field.label} takes a single value.", field=field.key)
    if isinstance(raw, float) and not math.isfinite(raw):
        raise CustomFieldInvalid(f"{field.label} takes a finite value.", field=field.key)
    if isinstance(raw, str) and _UNSTORABLE.search(raw):
        raise CustomFieldInvalid(
            f"{field.label} contains a character that cannot be stored.", field=field.key
        )
    if field.type == CustomFieldType.CHECKBOX:
        if isinstance(raw, bool):
            return raw
        if raw in (None, ""):
            return False
        if str(raw).lower() in {"1", "true", "on", "yes"}:
            return True
        if str(raw).lower() in {"0", "false", "off", "no"}:
            return False
        raise CustomFieldInvalid(f"{field.label} is a yes/no field.", field=field.key)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if field.type == CustomFieldType.TEXT:
        return str(raw).strip()[:1000]
    if field.type == CustomFieldType.NUMBER:
        try:
            number = decimal.Decimal(str(raw).strip())
        except decimal.InvalidOperation:
            raise CustomFieldInvalid(f"{field.label} takes a number.", field=field.key) from None
        if not number.is_finite():
            raise CustomFieldInvalid(f"{field.label} takes a number.", field=field.key)
        # copy_abs, unlike abs(), needs no context: 1e99999999 is too large, not an Overflow.
        if number.copy_abs() >= MAX_NUMBER:
            raise CustomFieldInvalid(f"{field.label} is too large a number.", field=field.key)
        return int(number) if number == number.to_integral_value() else float(number)
    if field.type == CustomFieldType.DATE:
        try:
            return datetime.date.fromisoformat(str(raw).strip()).isoformat()
        except ValueError:
            raise CustomFieldInvalid(
                f"{field.label} takes a date (YYYY-MM-DD).", field=field.key
            ) from None
    value = str(raw).strip()
    if value not in field.options:
        raise CustomFieldInvalid(
            f"{field.label} is one of: {', '.join(field.options)}.", field=field.key
        )
    return value


def display_values(target: str, values: Mapping[str, Any]) -> list[tuple[CustomField, Any]]:
    """(field, value) for every active field, in order, for pages that show them."""
    return [(field, values.get(field.key)) for field in list_custom_fields(target)]


# --- The agent's own time zone -----------------------------------------------------------

TIME_ZONE_SESSION_KEY = "agent_time_zone"


def time_zone_choices() -> list[str]:
    """Every IANA zone name, sorted (the preference page's list)."""
    return sorted(zoneinfo.available_timezones())


def member_time_zone(member: Membership) -> str:
    """The member's chosen zone, or "" for the help desk's own."""
    chosen = (
        AgentPreference.objects.filter(membership=member)
        .values_list("time_zone", flat=True)
        .first()
    )
    return chosen or ""


def set_member_time_zone(*, member: Membership, time_zone: str) -> None:
    """Show times to the member in `time_zone` ("" for the help desk's). Raises
    ConfigurationInvalid for a zone that does not exist."""
    time_zone = time_zone.strip()
    if time_zone and time_zone not in zoneinfo.available_timezones():
        raise ConfigurationInvalid(f"“{time_zone[:64]}” is not a time zone.")
    AgentPreference.objects.update_or_create(membership=member, defaults={"time_zone": time_zone})


MAX_SIGNATURE_CHARS = 1000


def member_signature(member: Membership | None, *, or_name: bool = True) -> str:
    """How the member signs a public reply: their own signature, else (`or_name`) their
    name; "" for no member (automatic mail)."""
    if member is None:
        return ""
    signature = (
        AgentPreference.objects.filter(membership=member)
        .values_list("signature", flat=True)
        .first()
    )
    own = (signature or "").strip()
    return own or (member.user.display_name if or_name else "")


def set_member_signature(*, member: Membership, signature: str) -> None:
    """The member's personal signature ("" for their name alone). Raises
    ConfigurationInvalid when it is longer than MAX_SIGNATURE_CHARS."""
    signature = signature.replace("\r\n", "\n").strip()
    if len(signature) > MAX_SIGNATURE_CHARS:
        raise ConfigurationInvalid(f"A signature is at most {MAX_SIGNATURE_CHARS} characters long.")
    AgentPreference.objects.update_or_create(membership=member, defaults={"signature": signature})
