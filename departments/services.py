"""Departments: names unique per tenant (case-insensitive), one default; a mailbox address is
unique across the installation and kept in the global InboundAddress index; business hours
have at least one working period, in a known time zone, without overlaps."""

from __future__ import annotations

import datetime
import enum
from dataclasses import dataclass
from typing import Any

from django.conf import settings as django_settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, router, transaction
from django.db.models import ProtectedError
from django.db.models.deletion import Collector
from django.utils import translation

from departments import business_time, selectors, signals
from departments.errors import (
    BusinessHoursInUse,
    BusinessHoursNameTaken,
    DefaultDepartmentRequired,
    DefaultMailboxRequired,
    DepartmentInUse,
    DepartmentNameTaken,
    InvalidAssignmentSettings,
    InvalidBusinessHours,
    InvalidDepartment,
    InvalidMailboxAddress,
    InvalidMailboxTemplate,
    MailboxAddressTaken,
)
from departments.models import (
    DEFAULT_AUTO_ACK_BODY,
    DEFAULT_AUTO_ACK_SUBJECT,
    MAX_OPEN_PER_AGENT_LIMIT,
    AssignmentMode,
    BusinessHours,
    Department,
    DepartmentMember,
    Holiday,
    Mailbox,
)
from helpdesk.core import crypto, placeholders
from helpdesk.core.queries import named
from helpdesk.tenancy import audit, permissions
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy import services as tenancy_services
from helpdesk.tenancy.context import require_tenant_id
from helpdesk.tenancy.models import InboundAddress, Membership
from helpdesk.tenancy.permissions import Capability

MAX_ADDRESS_LENGTH = 254  # RFC 5321; also the width of the address columns


@transaction.atomic
def create_department(
    *, name: str, description: str = "", is_default: bool = False, actor: Membership | None = None
) -> Department:
    """A new department. Raises DepartmentNameTaken, PermissionDenied."""
    permissions.require(actor, Capability.MANAGE_SETTINGS)
    name = name.strip()
    if named(Department.objects.all(), name).exists():
        raise DepartmentNameTaken(name=name)
    if is_default:
        Department.objects.filter(is_default=True).update(is_default=False)
    department = Department.objects.create(
        name=name, description=description, is_default=is_default
    )
    _departments_changed()
    audit.record_settings_change(
        actor=actor, what="department", target=department, label=department.name, change="created"
    )
    return department


class _Keep(enum.Enum):
    KEEP = "keep"


KEEP = _Keep.KEEP
"""For an argument whose None means something (no cap): leave the value as it is."""


@transaction.atomic
def update_department(
    *,
    department: Department,
    actor: Membership | None = None,
    name: str | None = None,
    description: str | None = None,
    is_default: bool | None = None,
    members: list[Membership] | None = None,
    assignment_mode: str | None = None,
    max_open_per_agent: int | _Keep | None = KEEP,
    assign_offline_agents: bool | None = None,
    hand_back_when_offline: bool | None = None,
) -> Department:
    """Rename, describe, make the default, seat exactly `members` (members of this
    tenant), or change how new tickets are assigned (mode, the cap per agent, None for
    none, whether offline agents get tickets, whether going offline hands them back).
    Agents who lose their seat are announced (members_left_department: automatic
    assignment takes their tickets back); new seats and new assignment settings too
    (department_assignment_changed: the backlog may have takers). Raises
    DepartmentNameTaken, DefaultDepartmentRequired, InvalidAssignmentSettings,
    PermissionDenied."""
    permissions.require(actor, Capability.MANAGE_SETTINGS)
    assignment_changed = _set_assignment_settings(
        department,
        assignment_mode=assignment_mode,
        max_open_per_agent=max_open_per_agent,
        assign_offline_agents=assign_offline_agents,
        hand_back_when_offline=hand_back_when_offline,
    )
    if name is not None:
        name = " ".join(name.split())
        if not name:
            raise InvalidDepartment()
        if named(Department.objects.exclude(id=department.id), name).exists():
            raise DepartmentNameTaken(name=name)
        department.name = name
    if description is not None:
        department.description = description.strip()
    if is_default and not department.is_default:
        Department.objects.filter(is_default=True).update(is_default=False)
        department.is_default = True
    elif is_default is False and department.is_default:
        raise DefaultDepartmentRequired()
    department.save()
    if members is not None and _seat_exactly(department, members):
        assignment_changed = True
    if assignment_changed:
        signals.department_assignment_changed.send(
            sender=Department, tenant_id=department.tenant_id, department_id=department.id
        )
    _departments_changed()
    audit.record_settings_change(
        actor=actor, what="department", target=department, label=department.name, change="saved"
    )
    return department


def _set_assignment_settings(
    department: Department,
    *,
    assignment_mode: str | None,
    max_open_per_agent: int | _Keep | None,
    assign_offline_agents: bool | None,
    hand_back_when_offline: bool | None,
) -> bool:
    """Check and set the assignment fields given (unsaved); True when one changed."""
    before = _assignment_settings(department)
    if assignment_mode is not None:
        if assignment_mode not in AssignmentMode.values:
            raise InvalidAssignmentSettings(
                f"The assignment mode is one of {', '.join(AssignmentMode.values)}.",
                field="assignment_mode",
            )
        department.assignment_mode = assignment_mode
    if not isinstance(max_open_per_agent, _Keep):
        if max_open_per_agent is not None and (
            isinstance(max_open_per_agent, bool)
            or not isinstance(max_open_per_agent, int)
            or not 1 <= max_open_per_agent <= MAX_OPEN_PER_AGENT_LIMIT
        ):
            raise InvalidAssignmentSettings(
                "The most open tickets per agent is a whole number from 1 to "
                f"{MAX_OPEN_PER_AGENT_LIMIT:,}, or empty for no limit.",
                field="max_open_per_agent",
            )
        department.max_open_per_agent = max_open_per_agent
    if assign_offline_agents is not None:
        department.assign_offline_agents = bool(assign_offline_agents)
    if hand_back_when_offline is not None:
        department.hand_back_when_offline = bool(hand_back_when_offline)
    if department.assign_offline_agents and department.hand_back_when_offline:
        # The tickets an agent hands back on going offline would go straight back to them.
        raise InvalidAssignmentSettings(
            "Handing tickets back when an agent goes offline needs offline agents to get no "
            "new tickets: turn one of the two off.",
            field="hand_back_when_offline",
        )
    return _assignment_settings(department) != before


def _assignment_settings(department: Department) -> tuple[object, ...]:
    return (
        department.assignment_mode,
        department.max_open_per_agent,
        department.assign_offline_agents,
        department.hand_back_when_offline,
    )


def _seat_exactly(department: Department, members: list[Membership]) -> bool:
    """Seat exactly these members; True when someone was newly seated. Those unseated are
    announced with members_left_department."""
    tenant_id = require_tenant_id()
    if any(member.tenant_id != tenant_id for member in members):
        raise ValueError("membership of another tenant")
    wanted = {member.id for member in members}
    leaving = DepartmentMember.objects.filter(department=department).exclude(
        membership_id__in=wanted
    )
    left = sorted(leaving.values_list("membership_id", flat=True))
    if left:
        leaving.delete()
        signals.members_left_department.send(
            sender=Department,
            tenant_id=tenant_id,
            department_id=department.id,
            membership_ids=left,
        )
    seated = set(
        DepartmentMember.objects.filter(department=department).values_list(
            "membership_id", flat=True
        )
    )
    new = wanted - seated
    DepartmentMember.objects.bulk_create(
        [
            DepartmentMember(tenant_id=tenant_id, department=department, membership_id=member_id)
            for member_id in new
        ]
    )
    return bool(new)


# What a department may take with it when deleted: its seats. Anything else that names it
# (tickets, mailboxes, SLA policies, canned responses, email template overrides) keeps it.
_GOES_WITH_A_DEPARTMENT = frozenset({DepartmentMember})


@transaction.atomic
def delete_department(*, department: Department, actor: Membership | None = None) -> None:
    """Remove a department nothing uses any more (a typo, a team that was merged).
    Raises DefaultDepartmentRequired for the default one, DepartmentInUse naming what
    still refers to it, PermissionDenied."""
    permissions.require(actor, Capability.MANAGE_SETTINGS)
    if department.is_default:
        raise DefaultDepartmentRequired()
    collector = Collector(using=router.db_for_write(Department))
    try:
        collector.collect([department])
    except ProtectedError as error:
        raise DepartmentInUse(
            f"{department.name} still has {_names(m.__class__ for m in error.protected_objects)}:"
            " move them to another department first."
        ) from None
    used = {model for model, rows in collector.data.items() if rows} | {
        query.model for query in collector.fast_deletes if query.exists()
    }
    used -= {Department, *_GOES_WITH_A_DEPARTMENT}
    if used:
        raise DepartmentInUse(
            f"{department.name} is still used by {_names(used)}: change or delete those first."
        )
    audit.record_settings_change(
        actor=actor, what="department", target=department, label=department.name, change="deleted"
    )
    department.delete()
    _departments_changed()


def _names(models: Any) -> str:
    return ", ".join(sorted({str(model._meta.verbose_name_plural) for model in models}))


def _departments_changed() -> None:
    """Drop the cached department list now and after the commit."""
    key = selectors.departments_key()
    cache.delete(key)
    transaction.on_commit(lambda: cache.delete(key))


@transaction.atomic
def add_department_member(
    *, department: Department, membership: Membership, actor: Membership | None = None
) -> DepartmentMember:
    """Seat a member of the current tenant in the department (idempotent). Raises
    PermissionDenied."""
    permissions.require(actor, Capability.MANAGE_SETTINGS)
    if membership.tenant_id != require_tenant_id():
        raise ValueError("membership of another tenant")
    member, created = DepartmentMember.objects.get_or_create(
        department=department, membership=membership
    )
    if created:
        signals.department_assignment_changed.send(
            sender=Department, tenant_id=department.tenant_id, department_id=department.id
        )
    return member


def _clean_address(address: str) -> str:
    """A valid address, lowercase. On the platform's own mail domain it must be at the
    tenant's subdomain: another tenant's subdomain (or the bare platform domain) would
    take mail that tenant's customers send to an address it has not set up yet. Addresses
    on other domains reach us when their owner forwards them."""
    address = address.strip().lower()
    try:
        validate_email(address)
    except ValidationError as error:
        raise InvalidMailboxAddress(address=address) from error
    if len(address) > MAX_ADDRESS_LENGTH:
        raise InvalidMailboxAddress(
            f"An address has at most {MAX_ADDRESS_LENGTH} characters.", address=address
        )
    base = django_settings.HELPDESK_BASE_DOMAIN.lower()
    domain = address.rpartition("@")[2]
    if domain == base or domain.endswith(f".{base}"):
        own = f"{tenancy_selectors.get_tenant(require_tenant_id()).slug}.{base}"
        if domain != own:
            raise InvalidMailboxAddress(
                f"Addresses at {base} must be at your own {own}.", address=address
            )
    return address


def _own_wording(text: str, built_in: str) -> str:
    """A mailbox's acknowledgement subject or body as stored: line endings as a browser
    posts them made plain, and the built-in wording in any offered language (what the
    template sends anyway, in the tenant's language) stored as empty, so saving the form
    unchanged keeps following the template."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    for code, _ in django_settings.LANGUAGES:
        with translation.override(code):
            if text == translation.gettext(built_in).strip():
                return ""
    return text


def _clean_display_name(values: dict[str, Any]) -> None:
    """The name goes into the From header of every mail the mailbox sends."""
    name = values.get("display_name")
    if name and any(c in name for c in "\r\n\x00"):
        raise InvalidMailboxAddress("The display name must be on one line.", field="display_name")


def _clean_wordings(values: dict[str, Any]) -> None:
    for name, built_in in (
        ("auto_ack_subject", DEFAULT_AUTO_ACK_SUBJECT),
        ("auto_ack_body", DEFAULT_AUTO_ACK_BODY),
    ):
        if name in values:
            values[name] = _own_wording(values[name] or "", built_in)


def _check_templates(subject: str, body: str) -> None:
    unknown = placeholders.unknown_placeholders(subject + "\n" + body)
    if unknown:
        raise InvalidMailboxTemplate(str(placeholders.UnknownPlaceholder(unknown)))
    if "agent.name" in placeholders.names_used(subject + "\n" + body):
        raise InvalidMailboxTemplate(placeholders.NO_AGENT_YET)


def _save_mailbox(mailbox: Mailbox, addresses: list[str]) -> None:
    """Save the mailbox and index its addresses; raises MailboxAddressTaken, before writing
    anything, when another mailbox (of this tenant or another) has one of them."""
    for address in addresses:
        owner = InboundAddress.objects.filter(address=address).first()
        if owner is not None and owner.mailbox_id != mailbox.id:
            raise MailboxAddressTaken(address=address)
        # support+x@ is a variant of support@: only support@'s own tenant may set it apart.
        local, _, domain = address.partition("@")
        if "+" in local:
            base = InboundAddress.objects.filter(address=f"{local.split('+', 1)[0]}@{domain}")
            if base.exclude(tenant_id=require_tenant_id()).exists():
                raise MailboxAddressTaken(address=address)
    try:
        with transaction.atomic():
            mailbox.save()
    except IntegrityError as error:
        if "departments_mailbox_address_uniq" not in str(error):
            raise
        # Taken by another mailbox of the tenant between the check and the insert.
        raise MailboxAddressTaken(address=mailbox.address) from error
    _sync_addresses(mailbox, addresses)


def _sync_addresses(mailbox: Mailbox, addresses: list[str]) -> None:
    """Make the global InboundAddress index hold exactly these addresses for the mailbox
    (and drop the cached list of the tenant's own addresses, now and after the commit)."""
    key = selectors.own_addresses_key()
    cache.delete(key)
    transaction.on_commit(lambda: cache.delete(key))
    tenant_id = mailbox.tenant_id
    current = set(
        InboundAddress.objects.in_current_tenant()
        .filter(mailbox_id=mailbox.id)
        .values_list("address", flat=True)
    )
    for address in current - set(addresses):
        tenancy_services.unregister_inbound_address(tenant_id=tenant_id, address=address)
    for address in set(addresses) - current:
        try:
            with transaction.atomic():
                tenancy_services.register_inbound_address(
                    tenant_id=tenant_id, address=address, mailbox_id=mailbox.id
                )
        except IntegrityError as error:  # another tenant took it between check and insert
            raise MailboxAddressTaken(address=address) from error


@transaction.atomic
def create_mailbox(
    *,
    address: str,
    department: Department,
    display_name: str = "",
    is_default: bool = False,
    aliases: list[str] | None = None,
    actor: Membership | None = None,
    **settings: Any,
) -> Mailbox:
    """A mailbox and its InboundAddress rows (address and aliases).

    Raises InvalidMailboxAddress, MailboxAddressTaken, InvalidMailboxTemplate,
    PermissionDenied.
    """
    permissions.require(actor, Capability.MANAGE_SETTINGS)
    address = _clean_address(address)
    clean_aliases = sorted({_clean_address(a) for a in aliases or []} - {address})
    password = settings.pop("imap_password", None)
    _clean_wordings(settings)
    _clean_display_name({"display_name": display_name})
    mailbox = Mailbox(
        address=address,
        department=department,
        display_name=display_name,
        is_default=is_default,
        aliases=clean_aliases,
        **settings,
    )
    _check_templates(mailbox.auto_ack_subject, mailbox.auto_ack_body)
    if password:
        mailbox.imap_password_encrypted = crypto.encrypt(password)
    if is_default:
        Mailbox.objects.filter(is_default=True).update(is_default=False)
    _save_mailbox(mailbox, [address, *clean_aliases])
    audit.record_settings_change(
        actor=actor, what="mailbox", target=mailbox, label=mailbox.address, change="created"
    )
    return mailbox


@transaction.atomic
def provision_support_department(
    *, admin: Membership, mailbox_address: str, mailbox_name: str
) -> tuple[Department, Mailbox]:
    """A new tenant's default department, Support, with its first admin seated, and the
    default mailbox at `mailbox_address`: the rows, audit entries, cache drops and signal
    that `create_department`, `add_department_member` and `create_mailbox` would give,
    without their checks against departments, seats and mailboxes a new tenant cannot
    have yet: 10 of provisioning's 52 statements fewer (every tenant, and nearly every
    test, starts here). Only for `helpdesk.ops.services.create_tenant`;
    tests/departments/test_departments.py holds it to those services' result.

    Raises InvalidMailboxAddress, MailboxAddressTaken, ValueError (another tenant's admin).
    """
    if admin.tenant_id != require_tenant_id():
        raise ValueError("membership of another tenant")
    address = _clean_address(mailbox_address)
    _clean_display_name({"display_name": mailbox_name})
    department = Department.objects.create(name="Support", is_default=True)
    _departments_changed()
    audit.record_settings_change(
        actor=None, what="department", target=department, label=department.name, change="created"
    )
    DepartmentMember.objects.create(department=department, membership=admin)
    signals.department_assignment_changed.send(
        sender=Department, tenant_id=department.tenant_id, department_id=department.id
    )
    mailbox = Mailbox(
        address=address,
        department=department,
        display_name=mailbox_name,
        is_default=True,
        aliases=[],
    )
    _check_templates(mailbox.auto_ack_subject, mailbox.auto_ack_body)
    _save_mailbox(mailbox, [address])
    audit.record_settings_change(
        actor=None, what="mailbox", target=mailbox, label=mailbox.address, change="created"
    )
    return department, mailbox


MAILBOX_FIELDS = frozenset(
    {
        "display_name",
        "is_active",
        "auto_ack_enabled",
        "auto_ack_subject",
        "auto_ack_body",
        "imap_enabled",
        "imap_host",
        "imap_port",
        "imap_security",
        "imap_username",
        "imap_folder",
        "imap_archive_folder",
    }
)


@transaction.atomic
def update_mailbox(*, mailbox: Mailbox, actor: Membership | None = None, **changes: Any) -> Mailbox:
    """Change a mailbox: address, aliases, department, default flag, auto-acknowledgement,
    IMAP settings (`imap_password` is encrypted; an empty one keeps the stored password).
    Raises PermissionDenied and what create_mailbox raises."""
    permissions.require(actor, Capability.MANAGE_SETTINGS)
    if "address" in changes:
        mailbox.address = _clean_address(changes.pop("address"))
    if "aliases" in changes:
        mailbox.aliases = sorted(
            {_clean_address(a) for a in changes.pop("aliases")} - {mailbox.address}
        )
    if "department" in changes:
        mailbox.department = changes.pop("department")
    password = changes.pop("imap_password", None)
    if password:
        mailbox.imap_password_encrypted = crypto.encrypt(password)
    _clean_wordings(changes)
    _clean_display_name(changes)
    make_default = changes.pop("is_default", None)
    if make_default and not mailbox.is_default:
        Mailbox.objects.filter(is_default=True).update(is_default=False)
        mailbox.is_default = True
    elif make_default is False and mailbox.is_default:
        raise DefaultMailboxRequired(
            "There is always a default mailbox: make another mailbox the default instead."
        )
    unknown = set(changes) - MAILBOX_FIELDS
    if unknown:
        raise ValueError(f"not mailbox settings: {sorted(unknown)}")
    for name, value in changes.items():
        setattr(mailbox, name, value)
    if changes.keys() & {"imap_host", "imap_port", "imap_security", "imap_username", "imap_folder"}:
        mailbox.imap_uid_validity = None  # another server or folder: start afresh
        mailbox.imap_last_uid = 0
    _check_templates(mailbox.auto_ack_subject, mailbox.auto_ack_body)
    _save_mailbox(mailbox, mailbox.all_addresses)
    audit.record_settings_change(
        actor=actor, what="mailbox", target=mailbox, label=mailbox.address, change="saved"
    )
    return mailbox


@transaction.atomic
def delete_mailbox(*, mailbox: Mailbox, actor: Membership | None = None) -> None:
    """Remove a mailbox and its addresses. Raises DefaultMailboxRequired for the default,
    PermissionDenied."""
    permissions.require(actor, Capability.MANAGE_SETTINGS)
    if mailbox.is_default:
        raise DefaultMailboxRequired(mailbox_id=str(mailbox.id))
    _sync_addresses(mailbox, [])
    audit.record_settings_change(
        actor=actor, what="mailbox", target=mailbox, label=mailbox.address, change="deleted"
    )
    mailbox.delete()


@dataclass(frozen=True)
class NewHoliday:
    date: datetime.date
    name: str = ""


@transaction.atomic
def save_business_hours(
    *,
    name: str,
    timezone: str,
    intervals: list[dict[str, Any]],
    holidays: list[NewHoliday],
    business_hours: BusinessHours | None = None,
    actor: Membership | None = None,
) -> BusinessHours:
    """Create (no `business_hours`) or replace a schedule and its holidays. SLA due times
    counted on it are recomputed after the commit. Raises InvalidBusinessHours (no periods,
    a bad time or zone, overlaps), BusinessHoursNameTaken, PermissionDenied."""
    permissions.require(actor, Capability.MANAGE_SETTINGS)
    name = name.strip()
    if not name:
        raise InvalidBusinessHours("Business hours need a name.")
    try:
        schedule = business_time.Schedule.from_intervals(timezone=timezone, intervals=intervals)
    except business_time.InvalidSchedule as error:
        raise InvalidBusinessHours(str(error)) from None
    clashing = named(BusinessHours.objects.all(), name)
    if business_hours is not None:
        clashing = clashing.exclude(id=business_hours.id)
    if clashing.exists():
        raise BusinessHoursNameTaken(name=name)
    stored = [
        {"day": day, "start": _hhmm(start), "end": _hhmm(end)}
        for day in sorted(schedule.periods)
        for start, end in schedule.periods[day]
    ]
    if business_hours is None:
        business_hours = BusinessHours(name=name)
    business_hours.name, business_hours.timezone, business_hours.intervals = name, timezone, stored
    business_hours.save()
    business_hours.holidays.all().delete()
    by_date = {holiday.date: holiday.name.strip()[:120] for holiday in holidays}
    Holiday.objects.bulk_create(
        Holiday(business_hours=business_hours, date=day, name=label, tenant_id=require_tenant_id())
        for day, label in sorted(by_date.items())
    )
    _business_hours_changed(business_hours)
    return business_hours


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@transaction.atomic
def delete_business_hours(
    *, business_hours: BusinessHours, actor: Membership | None = None
) -> None:
    """Remove a schedule. Raises BusinessHoursInUse while an SLA policy counts on it,
    PermissionDenied."""
    permissions.require(actor, Capability.MANAGE_SETTINGS)
    try:
        with transaction.atomic():
            business_hours.delete()
    except ProtectedError:
        raise BusinessHoursInUse(business_hours_id=str(business_hours.id)) from None


def _business_hours_changed(business_hours: BusinessHours) -> None:
    signals.business_hours_changed.send(
        sender=BusinessHours,
        tenant_id=business_hours.tenant_id,
        business_hours_id=business_hours.id,
    )
