"""Business time: how much working time lies between two moments, and when a given amount
of it runs out, on a weekly schedule in one time zone minus holidays. Plain functions on
plain values, so SLA code and tests use them without the database.

A schedule is a list of periods per weekday (Monday 0) in local wall-clock time; each
day's periods are turned into UTC moments for that date, so daylight-saving changes are
honoured (a 09:00-17:00 day stays 09:00-17:00 local). Without a schedule the clock runs
around the clock.
"""

from __future__ import annotations

import datetime
import itertools
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# How far a search for working time goes before it gives up: a schedule with periods
# always finds some within a week, unless holidays cover years of it.
MAX_DAYS = 3 * 366
DAY_MINUTES = 24 * 60
Period = tuple[datetime.datetime, datetime.datetime]


DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class InvalidSchedule(ValueError):
    pass


def parse_minute(value: str) -> int:
    """'HH:MM' (00:00 to 24:00) as minutes after midnight. Raises InvalidSchedule."""
    try:
        hours, minutes = (int(part) for part in str(value).split(":"))
    except ValueError:
        raise InvalidSchedule(f"{value!r} is not a time of day (HH:MM).") from None
    total = hours * 60 + minutes
    if not (0 <= minutes < 60 and 0 <= total <= DAY_MINUTES):
        raise InvalidSchedule(f"{value!r} is not a time of day (HH:MM).")
    return total


def format_minute(minute: int) -> str:
    """Minutes after midnight as 'HH:MM' (1440 is '24:00')."""
    return f"{minute // 60:02d}:{minute % 60:02d}"


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidSchedule(f"Unknown time zone {name!r}.") from None


@dataclass(frozen=True)
class Schedule:
    """Working periods per weekday (minutes after local midnight), in a time zone."""

    timezone: str = "UTC"
    periods: Mapping[int, tuple[tuple[int, int], ...]] = field(default_factory=dict)
    holidays: frozenset[datetime.date] = frozenset()

    @classmethod
    def from_intervals(
        cls, *, timezone: str, intervals: Iterable[Mapping[str, Any]], holidays: Iterable[Any] = ()
    ) -> Schedule:
        """From stored rows [{"day", "start", "end"}]. Raises InvalidSchedule: unknown zone,
        bad day or time, a period that ends before it starts, overlapping periods, none."""
        zone(timezone)
        by_day: dict[int, list[tuple[int, int]]] = {}
        for interval in intervals:
            day = interval.get("day")
            if not isinstance(day, int) or isinstance(day, bool) or not 0 <= day <= 6:
                raise InvalidSchedule("Each period needs a day from 0 (Monday) to 6 (Sunday).")
            try:
                start = parse_minute(interval.get("start", ""))
                end = parse_minute(interval.get("end", ""))
            except InvalidSchedule as error:
                raise InvalidSchedule(f"{DAY_NAMES[day]}: {error}") from None
            if end <= start:
                raise InvalidSchedule(
                    f"{DAY_NAMES[day]}: each period must end after it starts"
                    f" ({interval.get('start')}-{interval.get('end')})."
                )
            by_day.setdefault(day, []).append((start, end))
        if not by_day:
            raise InvalidSchedule("Business hours need at least one working period.")
        for day, periods in by_day.items():
            periods.sort()
            for (_, end), (start, _) in itertools.pairwise(periods):
                if start < end:
                    raise InvalidSchedule(f"{DAY_NAMES[day]}: periods must not overlap.")
        return cls(
            timezone=timezone,
            periods={day: tuple(periods) for day, periods in by_day.items()},
            holidays=frozenset(holidays),
        )

    def days_to_cover(self, seconds: float) -> int:
        """How many days a search for `seconds` of working time may need: at least MAX_DAYS,
        more for a long target on a thin schedule (a year of minutes on a 40-hour week is
        four years), a week more for each holiday."""
        weekly = 60 * sum(
            end - start for periods in self.periods.values() for start, end in periods
        )
        if weekly <= 0:
            return MAX_DAYS
        weeks = math.ceil(seconds / weekly) + 1 + len(self.holidays)
        return max(MAX_DAYS, 7 * weeks)

    def as_intervals(self) -> list[dict[str, Any]]:
        """The periods as stored rows [{"day", "start", "end"}], by day and start time."""
        return [
            {"day": day, "start": format_minute(start), "end": format_minute(end)}
            for day in sorted(self.periods)
            for start, end in self.periods[day]
        ]

    def working_periods(self, since: datetime.datetime, days: int = MAX_DAYS) -> Iterator[Period]:
        """The working periods (UTC start, end) from the local day of `since` on, in order,
        for `days` days."""
        local_zone = zone(self.timezone)
        day = since.astimezone(local_zone).date()
        for _ in range(days):
            if day not in self.holidays:
                for start, end in self.periods.get(day.weekday(), ()):
                    yield _moment(day, start, local_zone), _moment(day, end, local_zone)
            day += datetime.timedelta(days=1)


def _moment(day: datetime.date, minute: int, local_zone: ZoneInfo) -> datetime.datetime:
    midnight = datetime.datetime.combine(day, datetime.time(), tzinfo=local_zone)
    if minute == DAY_MINUTES:
        following = datetime.datetime.combine(
            day + datetime.timedelta(days=1), datetime.time(), tzinfo=local_zone
        )
        return following.astimezone(datetime.UTC)
    wall = midnight.replace(hour=minute // 60, minute=minute % 60)
    moment = wall.astimezone(datetime.UTC)
    # Only a time the clocks skip when they go forward reads with a larger offset as the
    # second of its two readings (PEP 495); everywhere else the first reading stands.
    after_offset, offset = wall.replace(fold=1).utcoffset(), wall.utcoffset()
    if after_offset is None or offset is None or after_offset <= offset:
        return moment
    # Skipped (02:30 on Berlin's spring Sunday): the period starts or ends at the jump, the
    # first moment after it on the wall. (The zone's reading would put it as far after the
    # jump as it lies inside the gap.)
    before = wall.replace(fold=1).astimezone(datetime.UTC)  # still before the jump
    reading = wall.replace(tzinfo=None)
    low, high = 0, int((moment - before).total_seconds())
    while high - low > 1:
        middle = (low + high) // 2
        probe = before + datetime.timedelta(seconds=middle)
        if probe.astimezone(local_zone).replace(tzinfo=None) > reading:
            high = middle
        else:
            low = middle
    return before + datetime.timedelta(seconds=high)


def seconds_between(
    start: datetime.datetime, end: datetime.datetime, schedule: Schedule | None
) -> float:
    """Working seconds from `start` to `end` (0 when end is not after start)."""
    if end <= start:
        return 0.0
    if schedule is None:
        return (end - start).total_seconds()
    total = 0.0
    days = max(MAX_DAYS, (end - start).days + 2)
    for period_start, period_end in schedule.working_periods(start, days):
        if period_start >= end:
            break
        overlap_start, overlap_end = max(start, period_start), min(end, period_end)
        if overlap_end > overlap_start:
            total += (overlap_end - overlap_start).total_seconds()
    return total


def add_seconds(
    start: datetime.datetime, seconds: float, schedule: Schedule | None
) -> datetime.datetime:
    """The moment `seconds` of working time after `start` (a moment inside working time
    when a period ends exactly then; `start` itself for 0 or less)."""
    if seconds <= 0:
        return start
    if schedule is None:
        return start + datetime.timedelta(seconds=seconds)
    remaining = seconds
    for period_start, period_end in schedule.working_periods(
        start, schedule.days_to_cover(seconds)
    ):
        if period_end <= start:
            continue
        begin = max(start, period_start)
        available = (period_end - begin).total_seconds()
        if available >= remaining:
            return begin + datetime.timedelta(seconds=remaining)
        remaining -= available
    # Holidays cover the whole search window: count calendar time rather than never.
    return start + datetime.timedelta(seconds=seconds)
