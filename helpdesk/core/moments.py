"""The moments people may type: due dates, reminders, holds, inbox filters and report
ranges, all between the years 1900 and 2999.

Python's datetime ends at the years 1 and 9999 and PostgreSQL's timestamps go further (into
BC), so a moment near either end broke pages long after it was saved: 9999-12-31 23:59 in
UTC overflowed when shown in Berlin, and 0001-01-01 typed in Tokyo was stored BC, which
psycopg cannot read back (every inbox listing the ticket failed). A help desk needs
neither end; a year such as 20256 is a typo.
"""

from __future__ import annotations

import datetime

from helpdesk.core.errors import DomainError

EARLIEST = datetime.datetime(1900, 1, 1, tzinfo=datetime.UTC)
LATEST = datetime.datetime(3000, 1, 1, tzinfo=datetime.UTC)  # exclusive
RANGE_TEXT = "between the years 1900 and 2999"


class MomentOutOfRange(DomainError):
    code = "date_out_of_range"
    message = f"That date is out of range: pick one {RANGE_TEXT}."


def in_range(moment: datetime.datetime | datetime.date) -> bool:
    """The moment (aware or naive, read as UTC) or the day lies in the range."""
    if not isinstance(moment, datetime.datetime):
        return EARLIEST.date() <= moment < LATEST.date()
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    # Aware datetimes compare through their UTC offsets without converting, so no overflow.
    return EARLIEST <= moment < LATEST


def check(moment: datetime.datetime | None, *, what: str = "That date") -> None:
    """Raises MomentOutOfRange for a moment outside the range (None is no moment)."""
    if moment is not None and not in_range(moment):
        raise MomentOutOfRange(f"{what} is out of range: pick one {RANGE_TEXT}.")
