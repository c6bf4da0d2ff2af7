"""The buckets response and resolution times are counted in (minutes), and the medians and
percentiles read back from them. Pure: no database.

A percentile is reported as the lower edge of the bucket holding it: exact to the minute
under 10 minutes, to 5 minutes under an hour, 15 under 4 hours, an hour under a day, six
hours under 3 days, a day under a week, a week beyond (up to 8 weeks; later is "8 weeks").
"""

from __future__ import annotations

import math
from collections.abc import Sequence

EDGES: tuple[int, ...] = (
    *range(0, 10),
    *range(10, 60, 5),
    *range(60, 240, 15),
    *range(240, 1440, 60),
    *range(1440, 4320, 360),
    *range(4320, 10080, 1440),
    *range(10080, 80640 + 1, 10080),
)


def bucket_of(minutes: float) -> int:
    """The bucket (0-based) holding `minutes` (negative counts as 0)."""
    index = 0
    for position, edge in enumerate(EDGES):
        if minutes >= edge:
            index = position
        else:
            break
    return index


def floor_to_bucket(minutes: float) -> int:
    return EDGES[bucket_of(minutes)]


def percentile(hist: Sequence[int], fraction: float) -> int | None:
    """The value at `fraction` (0.5: the median, the lower one of an even count; 0.9: the
    90th percentile) of the times counted in `hist`, as its bucket's lower edge; None
    when nothing is counted."""
    total = sum(hist)
    if not total:
        return None
    rank = max(1, math.ceil(fraction * total))
    seen = 0
    for index, count in enumerate(hist):
        seen += count
        if seen >= rank:
            return EDGES[index]
    return EDGES[len(hist) - 1]


def exact_percentile(values: Sequence[float], fraction: float) -> int | None:
    """The same figure computed from the times themselves (tests, checks)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return floor_to_bucket(ordered[rank - 1])


def format_minutes(value: float | None) -> str:
    """Minutes as people read them: "14 min", "2 h 15 min", "3 d 4 h"; "—" for none."""
    if value is None:
        return "—"
    value = int(value)
    if value < 60:
        return f"{value} min"
    if value < 1440:
        hours, minutes = divmod(value, 60)
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, rest = divmod(value, 1440)
    return f"{days} d {rest // 60} h" if rest // 60 else f"{days} d"
