"""Shifts and leave, and the shift clock.

A member's shift and leave are set by those who may manage availability (admins). Saving
either applies it at once: the clock runs for that member, so someone whose new hours
have ended goes offline now. Availability itself belongs to helpdesk.accounts (it owns
the membership row): the clock tells it when a shift began or ended
(`set_on_shift`) and when members went idle (`mark_idle_members_away`).
"""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any
from uuid import UUID

from django.db import IntegrityError, transaction
from django.utils import timezone as django_timezone

from departments import business_time
from departments.models import AgentShift, ShiftLeave
from departments.shifts import selectors
from departments.shifts.errors import InvalidLeave, InvalidShift
from helpdesk.accounts import services as account_services
from helpdesk.tenancy import permissions
from helpdesk.tenancy.models import Membership
from helpdesk.tenancy.permissions import Capability

# More periods than anyone works in a week, fewer than could hurt.
MAX_PERIODS = 70
REASON_LENGTH = 120


@cache
def _known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_shift(*, timezone: str, intervals: Any) -> list[dict[str, Any]]:
    """The intervals as stored (by day and start), or InvalidShift with what is wrong: an
    unknown time zone, a period that is not {"day": 0-6, "start": "HH:MM", "end": "HH:MM"}
    (24:00 allowed), ends before it starts, overlaps another, or no period at all."""
    if not isinstance(timezone, str) or timezone not in _known_zones():
        raise InvalidShift(
            f"Unknown time zone {timezone!r}: use an IANA name such as Europe/Berlin."
        )
    if not isinstance(intervals, list) or not intervals:
        raise InvalidShift(
            "A shift needs at least one period such as"
            ' {"day": 0, "start": "09:00", "end": "17:00"}; remove the shift instead.'
        )
    if len(intervals) > MAX_PERIODS:
        raise InvalidShift(f"A shift has at most {MAX_PERIODS} periods.")
    if not all(isinstance(interval, Mapping) for interval in intervals):
        raise InvalidShift('Each period is {"day": 0-6, "start": "HH:MM", "end": "HH:MM"}.')
    try:
        schedule = business_time.Schedule.from_intervals(timezone=timezone, intervals=intervals)
    except business_time.InvalidSchedule as error:
        raise InvalidShift(str(error)) from None
    return schedule.as_intervals()


@transaction.atomic
def set_shift(
    *, membership: Membership, timezone: str, intervals: Any, actor: Membership | None
) -> AgentShift:
    """Give the member (a seat of the current tenant) these weekly hours, replacing any
    they had, and apply them now. Raises InvalidShift, PermissionDenied."""
    permissions.require(actor, Capability.MANAGE_AVAILABILITY)
    stored = validate_shift(timezone=timezone, intervals=intervals)
    shift = AgentShift.objects.select_for_update().filter(membership_id=membership.id).first()
    if shift is None:
        try:
            # A savepoint: a concurrent first shift for the same member trips the unique key.
            with transaction.atomic():
                shift = AgentShift.objects.create(
                    membership=membership, timezone=timezone, intervals=stored
                )
        except IntegrityError:
            shift = AgentShift.objects.select_for_update().get(membership_id=membership.id)
    shift.timezone, shift.intervals = timezone, stored
    shift.save(update_fields=["timezone", "intervals", "updated_at"])
    run_shift_clock(membership_ids=[membership.id])
    return shift


@transaction.atomic
def clear_shift(*, membership: Membership, actor: Membership | None) -> bool:
    """Remove the member's shift: they are on shift at all times again (except on leave).
    Returns whether there was one. Raises PermissionDenied."""
    permissions.require(actor, Capability.MANAGE_AVAILABILITY)
    deleted, _ = AgentShift.objects.filter(membership_id=membership.id).delete()
    run_shift_clock(membership_ids=[membership.id])
    return bool(deleted)


@transaction.atomic
def add_leave(
    *,
    membership: Membership,
    starts_on: datetime.date,
    ends_on: datetime.date,
    reason: str = "",
    actor: Membership | None,
) -> ShiftLeave:
    """Days off for the member, first and last day included (in their shift's time zone,
    or the tenant's without a shift), applied now. Raises InvalidLeave (ends before it
    starts, or longer than the schedule looks ahead), PermissionDenied."""
    permissions.require(actor, Capability.MANAGE_AVAILABILITY)
    if ends_on < starts_on:
        raise InvalidLeave("Leave must end on or after the day it starts.")
    if (ends_on - starts_on).days >= business_time.MAX_DAYS:
        raise InvalidLeave("Leave of three years or more: deactivate the seat instead.")
    leave = ShiftLeave.objects.create(
        membership=membership,
        starts_on=starts_on,
        ends_on=ends_on,
        reason=reason.strip()[:REASON_LENGTH],
    )
    run_shift_clock(membership_ids=[membership.id])
    return leave


@transaction.atomic
def remove_leave(*, leave: ShiftLeave, actor: Membership | None) -> None:
    """Withdraw the leave and apply what remains now. Raises PermissionDenied."""
    permissions.require(actor, Capability.MANAGE_AVAILABILITY)
    membership_id = leave.membership_id
    ShiftLeave.objects.filter(id=leave.id).delete()
    run_shift_clock(membership_ids=[membership_id])


@transaction.atomic
def run_shift_clock(
    *, membership_ids: Iterable[UUID] | None = None, now: datetime.datetime | None = None
) -> int:
    """Bring `Membership.on_shift` in line with the hours for the members (None: every
    member of the current tenant with a shift, leave, or stored as off shift): a shift
    that ended takes the member offline (accounts' `set_on_shift`), one that began only
    sets the flag. Without `membership_ids` (the periodic run), idle online members go
    away too. Idempotent. Returns how many flags changed."""
    now = now or django_timezone.now()
    ids = list(membership_ids) if membership_ids is not None else None
    hours = selectors.member_hours(ids, now)
    seats = Membership.objects.in_current_tenant().filter(is_active=True)
    if ids is not None:
        seats = seats.filter(id__in=ids)
    else:
        seats = seats.filter(id__in=list(hours)) | seats.filter(on_shift=False)
    changed = 0
    for member_id, stored in seats.values_list("id", "on_shift"):
        member_hours = hours.get(member_id)
        expected = member_hours is None or member_hours.on_shift(now)
        if expected != stored and account_services.set_on_shift(
            membership_id=member_id, on_shift=expected, now=now
        ):
            changed += 1
    if ids is None:
        account_services.mark_idle_members_away(now=now)
    return changed
