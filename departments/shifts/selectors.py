"""Reads for shifts: a member's shift and leave, whether they are on shift at a moment,
and a department's roster (who is on now, who is next). Always in the current tenant.

A member's hours are a `business_time.Schedule`: the shift's weekly periods in its time
zone, or, without a shift, every day from 00:00 to 24:00 in the tenant's time zone (no
shift: always on). Leave days (in that same zone) are the schedule's holidays.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from departments import business_time
from departments.models import AgentShift, DepartmentMember, ShiftLeave
from departments.shifts.errors import LeaveNotFound, ShiftNotFound
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.context import require_tenant_id
from helpdesk.tenancy.models import Membership

logger = logging.getLogger(__name__)

# Without a shift a member is on at all times: the whole of every day.
ALWAYS = tuple({"day": day, "start": "00:00", "end": "24:00"} for day in range(7))
# A stretch on shift reaching further than this is "no end in sight" (always on).
OPEN_ENDED = datetime.timedelta(days=7)


def get_shift(membership_id: UUID | str) -> AgentShift:
    """The member's shift. Raises ShiftNotFound."""
    shift = AgentShift.objects.filter(membership_id=membership_id).first()
    if shift is None:
        raise ShiftNotFound(member_id=str(membership_id))
    return shift


def list_leave(membership_id: UUID | str) -> QuerySet[ShiftLeave]:
    """The member's leave, earliest first (past leave included)."""
    return ShiftLeave.objects.filter(membership_id=membership_id).order_by("starts_on", "id")


def get_leave(membership_id: UUID | str, leave_id: UUID | str) -> ShiftLeave:
    """One leave of the member. Raises LeaveNotFound (also another member's)."""
    try:
        leave = list_leave(membership_id).filter(id=leave_id).first()
    except (ValueError, TypeError, ValidationError):
        leave = None
    if leave is None:
        raise LeaveNotFound(leave_id=str(leave_id))
    return leave


@dataclass(frozen=True)
class MemberHours:
    """When a member is on shift: their schedule, with leave days as holidays."""

    membership_id: UUID
    schedule: business_time.Schedule
    has_shift: bool

    @property
    def timezone(self) -> str:
        return self.schedule.timezone

    def on_shift(self, at: datetime.datetime) -> bool:
        """Inside a period of the schedule, on a day that is not leave."""
        # Periods never cross local midnight, so one holding `at` starts on its local day,
        # where working_periods begins.
        for start, end in self.schedule.working_periods(at):
            if start > at:
                return False
            if at < end:
                return True
        return False

    def shift_ends_at(self, at: datetime.datetime) -> datetime.datetime | None:
        """When the stretch on shift holding `at` ends (back-to-back periods, such as
        22:00-24:00 and 00:00-06:00, are one stretch). None when off shift now, or when
        the stretch goes on for more than a week (always on)."""
        end: datetime.datetime | None = None
        for start, stop in self.schedule.working_periods(at):
            if end is None:
                if start > at:
                    return None
                if at < stop:
                    end = stop
            elif start == end:
                end = stop
            else:
                break
            if end is not None and end - at > OPEN_ENDED:
                return None
        return end

    def next_shift_at(self, at: datetime.datetime) -> datetime.datetime | None:
        """When the member's next period begins, if they are off shift at `at`; None when
        they are on, or nothing begins in the schedule's search window."""
        for start, end in self.schedule.working_periods(at):
            if start <= at < end:
                return None
            if start > at:
                return start
        return None


def _tenant_zone() -> str:
    name = tenancy_selectors.get_tenant(require_tenant_id()).time_zone
    try:
        business_time.zone(name)
    except business_time.InvalidSchedule:
        return "UTC"
    return name


def _leave_days(
    leaves: Iterable[ShiftLeave], since: datetime.date, until: datetime.date
) -> frozenset[datetime.date]:
    days: set[datetime.date] = set()
    for leave in leaves:
        day = max(leave.starts_on, since)
        while day <= min(leave.ends_on, until):
            days.add(day)
            day += datetime.timedelta(days=1)
    return frozenset(days)


def member_hours(
    membership_ids: Iterable[UUID] | None, at: datetime.datetime
) -> dict[UUID, MemberHours]:
    """The hours of the members (None: every member) who have a shift or leave that still
    counts at `at`; a member missing from the answer is on shift at all times. Two
    queries whatever the number of members."""
    shifts = AgentShift.objects.all()
    # Local dates run at most a day either side of UTC's.
    since = at.astimezone(datetime.UTC).date() - datetime.timedelta(days=1)
    until = since + datetime.timedelta(days=business_time.MAX_DAYS + 2)
    leaves = ShiftLeave.objects.filter(ends_on__gte=since)
    if membership_ids is not None:
        ids = list(membership_ids)
        shifts, leaves = shifts.filter(membership_id__in=ids), leaves.filter(membership_id__in=ids)
    by_member: dict[UUID, list[ShiftLeave]] = {}
    for leave in leaves:
        by_member.setdefault(leave.membership_id, []).append(leave)
    found: dict[UUID, AgentShift] = {shift.membership_id: shift for shift in shifts}
    tenant_zone = _tenant_zone() if set(by_member) - set(found) else "UTC"
    hours: dict[UUID, MemberHours] = {}
    for member_id in found.keys() | by_member.keys():
        shift = found.get(member_id)
        holidays = _leave_days(by_member.get(member_id, ()), since, until)
        try:
            schedule = business_time.Schedule.from_intervals(
                timezone=shift.timezone if shift else tenant_zone,
                intervals=shift.intervals if shift else ALWAYS,
                holidays=holidays,
            )
        except business_time.InvalidSchedule:
            # Services store valid shifts only; a damaged row must not stop the clock.
            logger.warning("shift of member %s is not valid; treated as always on", member_id)
            schedule = business_time.Schedule.from_intervals(
                timezone="UTC", intervals=ALWAYS, holidays=holidays
            )
        hours[member_id] = MemberHours(
            membership_id=member_id, schedule=schedule, has_shift=shift is not None
        )
    return hours


def is_on_shift(member: Membership, at: datetime.datetime) -> bool:
    """Whether the member is on shift at `at`: inside their shift (always, without one)
    and not on leave."""
    hours = member_hours([member.id], at).get(member.id)
    return hours is None or hours.on_shift(at)


@dataclass(frozen=True)
class RosterEntry:
    membership: Membership
    on_shift: bool
    has_shift: bool
    timezone: str
    until: datetime.datetime | None = None
    next_start: datetime.datetime | None = None


@dataclass(frozen=True)
class Roster:
    """A department's agents now: who is on shift (by name), who is off (soonest back
    first; those with nothing ahead last)."""

    on_now: list[RosterEntry] = field(default_factory=list)
    off_now: list[RosterEntry] = field(default_factory=list)

    @property
    def next_up(self) -> RosterEntry | None:
        """Whoever comes on shift soonest."""
        first = self.off_now[0] if self.off_now else None
        return first if first is not None and first.next_start is not None else None


def department_roster(department_id: UUID, at: datetime.datetime) -> Roster:
    """Who among the department's active agents is on shift at `at`, until when, and who
    is off and when they are next on. Three queries whatever the team's size."""
    seats = [
        seat.membership
        for seat in DepartmentMember.objects.filter(
            department_id=department_id, membership__is_active=True
        )
        .select_related("membership__user")
        .order_by("membership__user__name", "membership__user__email")
    ]
    hours = member_hours([member.id for member in seats], at)
    on_now: list[RosterEntry] = []
    off_now: list[RosterEntry] = []
    for member in seats:
        member_hours_ = hours.get(member.id)
        if member_hours_ is None:
            on_now.append(
                RosterEntry(membership=member, on_shift=True, has_shift=False, timezone="")
            )
        elif member_hours_.on_shift(at):
            on_now.append(
                RosterEntry(
                    membership=member,
                    on_shift=True,
                    has_shift=member_hours_.has_shift,
                    timezone=member_hours_.timezone,
                    until=member_hours_.shift_ends_at(at),
                )
            )
        else:
            off_now.append(
                RosterEntry(
                    membership=member,
                    on_shift=False,
                    has_shift=member_hours_.has_shift,
                    timezone=member_hours_.timezone,
                    next_start=member_hours_.next_shift_at(at),
                )
            )
    far = datetime.datetime.max.replace(tzinfo=datetime.UTC)
    off_now.sort(key=lambda entry: entry.next_start or far)
    return Roster(on_now=on_now, off_now=off_now)
