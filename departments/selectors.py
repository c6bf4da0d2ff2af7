"""Reads for departments and mailboxes (always in the current tenant)."""

from __future__ import annotations

from uuid import UUID

from django.core.cache import cache
from django.db.models import Count, QuerySet

from departments import business_time
from departments.errors import BusinessHoursNotFound, DepartmentNotFound, MailboxNotFound
from departments.models import BusinessHours, Department, DepartmentMember, Mailbox
from helpdesk.tenancy.context import require_tenant_id


def list_departments() -> QuerySet[Department]:
    return Department.objects.order_by("name")


def list_departments_with_counts() -> QuerySet[Department]:
    return Department.objects.annotate(member_count=Count("members", distinct=True)).order_by(
        "name"
    )


def get_department(department_id: UUID | str) -> Department:
    department = Department.objects.filter(id=department_id).first()
    if department is None:
        raise DepartmentNotFound(department_id=str(department_id))
    return department


def find_department_by_name(name: str) -> Department | None:
    return Department.objects.filter(name__iexact=name.strip()).first()


def get_default_department() -> Department:
    department = Department.objects.filter(is_default=True).first()
    if department is None:
        department = Department.objects.order_by("created_at").first()
    if department is None:
        raise DepartmentNotFound(department_id="default")
    return department


def list_mailboxes() -> QuerySet[Mailbox]:
    return Mailbox.objects.select_related("department").order_by("address")


def is_agent_of(membership_id: UUID, department_id: UUID) -> bool:
    return DepartmentMember.objects.filter(
        membership_id=membership_id, department_id=department_id
    ).exists()


def get_mailbox(mailbox_id: UUID | str) -> Mailbox:
    mailbox = Mailbox.objects.select_related("department").filter(id=mailbox_id).first()
    if mailbox is None:
        raise MailboxNotFound(mailbox_id=str(mailbox_id))
    return mailbox


OWN_ADDRESSES_SECONDS = 300


def own_addresses_key() -> str:
    return f"mailbox-addresses:{require_tenant_id()}"


def own_addresses() -> frozenset[str]:
    """Every address and alias of the tenant's mailboxes, lowercase: mail from them never
    opens a ticket. Read for each inbound mail, so cached; mailbox services drop it."""
    key = own_addresses_key()
    cached = cache.get(key)
    if isinstance(cached, frozenset):
        return cached
    addresses: set[str] = set()
    for address, aliases in Mailbox.objects.values_list("address", "aliases"):
        addresses.add(address.lower())
        addresses.update(alias.lower() for alias in aliases or [])
    value = frozenset(addresses)
    cache.set(key, value, OWN_ADDRESSES_SECONDS)
    return value


DEPARTMENTS_SECONDS = 600


def departments_key() -> str:
    return f"departments:{require_tenant_id()}"


def cached_departments() -> list[Department]:
    """The tenant's departments by name, for the pickers on every agent page; cached per
    tenant, dropped by the department services on any change."""
    key = departments_key()
    cached = cache.get(key)
    if isinstance(cached, list):
        return cached
    departments = list(list_departments())
    cache.set(key, departments, DEPARTMENTS_SECONDS)
    return departments


def list_business_hours() -> QuerySet[BusinessHours]:
    return BusinessHours.objects.prefetch_related("holidays").order_by("name")


def get_business_hours(business_hours_id: UUID | str) -> BusinessHours:
    found = BusinessHours.objects.prefetch_related("holidays").filter(id=business_hours_id).first()
    if found is None:
        raise BusinessHoursNotFound(business_hours_id=str(business_hours_id))
    return found


def get_schedule(business_hours_id: UUID | str) -> business_time.Schedule:
    """The schedule SLA clocks count on (stored rows are valid: services check them)."""
    hours = get_business_hours(business_hours_id)
    return business_time.Schedule.from_intervals(
        timezone=hours.timezone,
        intervals=hours.intervals,
        holidays=[holiday.date for holiday in hours.holidays.all()],
    )
