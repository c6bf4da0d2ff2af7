"""Business time arithmetic: periods per weekday in a time zone, holidays, daylight saving."""

from __future__ import annotations

import datetime
from collections.abc import Iterable

import pytest

from departments.business_time import (
    InvalidSchedule,
    Schedule,
    add_seconds,
    seconds_between,
)

UTC = datetime.UTC
WEEKDAYS_9_TO_5 = [{"day": d, "start": "09:00", "end": "17:00"} for d in range(5)]


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(year, month, day, hour, minute, tzinfo=UTC)


def office(timezone: str = "UTC", holidays: Iterable[datetime.date] = ()) -> Schedule:
    return Schedule.from_intervals(timezone=timezone, intervals=WEEKDAYS_9_TO_5, holidays=holidays)


def test_without_a_schedule_the_clock_runs_around_the_clock() -> None:
    assert seconds_between(at(2026, 1, 5, 22), at(2026, 1, 6, 2), None) == 4 * 3600
    assert add_seconds(at(2026, 1, 5, 22), 4 * 3600, None) == at(2026, 1, 6, 2)


def test_time_outside_the_periods_does_not_count() -> None:
    # Friday 16:00 to Monday 10:00: one hour on Friday, one on Monday.
    assert seconds_between(at(2026, 1, 9, 16), at(2026, 1, 12, 10), office()) == 2 * 3600
    assert add_seconds(at(2026, 1, 9, 16), 2 * 3600, office()) == at(2026, 1, 12, 10)


def test_a_start_before_opening_counts_from_opening() -> None:
    assert add_seconds(at(2026, 1, 5, 6), 30 * 60, office()) == at(2026, 1, 5, 9, 30)
    assert seconds_between(at(2026, 1, 5, 6), at(2026, 1, 5, 9, 30), office()) == 30 * 60


def test_a_target_ending_with_the_day_is_due_at_closing() -> None:
    assert add_seconds(at(2026, 1, 5, 9), 8 * 3600, office()) == at(2026, 1, 5, 17)


def test_holidays_are_skipped() -> None:
    schedule = office(holidays=[datetime.date(2026, 1, 6)])
    assert add_seconds(at(2026, 1, 5, 16), 2 * 3600, schedule) == at(2026, 1, 7, 10)
    assert seconds_between(at(2026, 1, 5, 9), at(2026, 1, 8, 9), schedule) == 16 * 3600


def test_periods_are_local_time_across_daylight_saving() -> None:
    berlin = office("Europe/Berlin")
    # Winter: 09:00 in Berlin is 08:00 UTC; summer (after 29 March 2026): 07:00 UTC.
    assert add_seconds(at(2026, 3, 27, 7), 60, berlin) == at(2026, 3, 27, 8, 1)
    assert add_seconds(at(2026, 3, 30, 6), 60, berlin) == at(2026, 3, 30, 7, 1)
    # Friday 27th 15:00 UTC (16:00 local) + 2 h: one hour Friday, one hour Monday 30th.
    assert add_seconds(at(2026, 3, 27, 15), 2 * 3600, berlin) == at(2026, 3, 30, 8)


def test_several_periods_a_day_and_midnight() -> None:
    schedule = Schedule.from_intervals(
        timezone="UTC",
        intervals=[
            {"day": 0, "start": "09:00", "end": "12:00"},
            {"day": 0, "start": "13:00", "end": "24:00"},
        ],
    )
    assert add_seconds(at(2026, 1, 5, 11), 2 * 3600, schedule) == at(2026, 1, 5, 14)
    assert seconds_between(at(2026, 1, 5), at(2026, 1, 6), schedule) == 14 * 3600


@pytest.mark.parametrize(
    ("intervals", "message"),
    [
        ([], "at least one"),
        ([{"day": 7, "start": "09:00", "end": "17:00"}], "day from 0"),
        ([{"day": 0, "start": "9", "end": "17:00"}], "time of day"),
        ([{"day": 0, "start": "25:00", "end": "26:00"}], "time of day"),
        ([{"day": 0, "start": "17:00", "end": "09:00"}], "end after"),
        (
            [
                {"day": 0, "start": "09:00", "end": "12:00"},
                {"day": 0, "start": "11:00", "end": "13:00"},
            ],
            "overlap",
        ),
    ],
)
def test_bad_schedules_are_refused(intervals: list[dict[str, object]], message: str) -> None:
    with pytest.raises(InvalidSchedule, match=message):
        Schedule.from_intervals(timezone="UTC", intervals=intervals)


def test_unknown_time_zone_is_refused() -> None:
    with pytest.raises(InvalidSchedule, match="time zone"):
        office("Mars/Olympus_Mons")


def test_a_year_of_working_minutes_on_a_forty_hour_week_takes_four_years() -> None:
    """The longest target (366 days of minutes) on office hours: 219.6 weeks. The search
    stopped after three years and fell back to calendar time, due a year after the start."""
    seconds = 366 * 24 * 3600
    start = at(2025, 1, 6, 8)
    due = add_seconds(start, seconds, office())
    assert at(2029, 3, 1) < due < at(2029, 4, 1)
    assert seconds_between(start, due, office()) == seconds


@pytest.mark.parametrize(
    ("timezone", "start", "end", "day", "hours"),
    [
        # Berlin skips 02:00-03:00 on 30 March 2025: a period from inside the gap starts at
        # the jump (03:00), one ending inside it ends there.
        ("Europe/Berlin", "02:30", "05:00", at(2025, 3, 30), 2.0),
        ("Europe/Berlin", "01:00", "02:30", at(2025, 3, 30), 1.0),
        # Lord Howe skips half an hour (02:00-02:30) on 5 October 2025.
        ("Australia/Lord_Howe", "02:10", "04:00", at(2025, 10, 4, 12), 1.5),
    ],
)
def test_a_period_edge_in_the_spring_gap_is_the_moment_of_the_jump(
    timezone: str, start: str, end: str, day: datetime.datetime, hours: float
) -> None:
    """The zone's own reading puts a skipped time as far after the jump as it lies inside
    the gap: 30 minutes lost at the start, 30 gained at the end."""
    sunday = Schedule.from_intervals(
        timezone=timezone, intervals=[{"day": 6, "start": start, "end": end}], holidays=[]
    )
    assert seconds_between(day, day + datetime.timedelta(days=2), sunday) == hours * 3600
