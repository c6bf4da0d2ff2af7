"""Server-rendered SVG charts for the reports page (no script, no CDN): they scale to the
width of the page and print as they are."""

from __future__ import annotations

import datetime
import math
from collections.abc import Callable, Sequence

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH = 600
HEIGHT = 180
PAD_LEFT = 34
PAD_BOTTOM = 22
PAD_TOP = 8


def created_vs_solved(daily: Sequence[tuple[datetime.date, int, int]]) -> SafeString:
    """Two lines, created and solved per day, with the day axis labelled at both ends."""
    if not daily:
        return SafeString("")
    peak = max(1, *(max(created, solved) for _, created, solved in daily))
    plot_w = WIDTH - PAD_LEFT - 6
    plot_h = HEIGHT - PAD_BOTTOM - PAD_TOP
    step = plot_w / max(1, len(daily) - 1)

    def points(counts: Sequence[int]) -> str:
        return " ".join(
            f"{PAD_LEFT + n * step:.1f},{PAD_TOP + plot_h - count / peak * plot_h:.1f}"
            for n, count in enumerate(counts)
        )

    first, last = daily[0][0], daily[-1][0]
    grid = format_html_join(
        "",
        '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#d0d5dd" stroke-width="1"/>'
        '<text x="{}" y="{}" font-size="11" fill="#475467" text-anchor="end">{}</text>',
        (
            (
                PAD_LEFT,
                WIDTH - 6,
                f"{PAD_TOP + plot_h - fraction * plot_h:.1f}",
                f"{PAD_TOP + plot_h - fraction * plot_h:.1f}",
                PAD_LEFT - 4,
                f"{PAD_TOP + plot_h - fraction * plot_h + 4:.1f}",
                round(fraction * peak),
            )
            for fraction in (0, 0.5, 1)
        ),
    )
    return format_html(
        '<svg class="chart" viewBox="0 0 {w} {h}" role="img"'
        ' aria-labelledby="chart-title">'
        '<title id="chart-title">Tickets created and solved per day, {first} to {last}</title>'
        "{grid}"
        '<polyline fill="none" stroke="#2563eb" stroke-width="2" points="{created}"/>'
        '<polyline fill="none" stroke="#16a34a" stroke-width="2" stroke-dasharray="5 3"'
        ' points="{solved}"/>'
        '<text x="{left}" y="{bottom}" font-size="11" fill="#475467">{first}</text>'
        '<text x="{right}" y="{bottom}" font-size="11" fill="#475467"'
        ' text-anchor="end">{last}</text>'
        "</svg>",
        w=WIDTH,
        h=HEIGHT,
        first=first.isoformat(),
        last=last.isoformat(),
        grid=grid,
        created=points([created for _, created, _ in daily]),
        solved=points([solved for _, _, solved in daily]),
        left=PAD_LEFT,
        right=WIDTH - 6,
        bottom=HEIGHT - 6,
    )


def line(
    values: Sequence[tuple[datetime.date, int | None]], *, title: str, element_id: str
) -> SafeString:
    """One line of a count per day (a gap where the value is None), labelled like the
    created-and-solved chart."""
    known = [value for _, value in values if value is not None]
    if not values or not known:
        return SafeString("")
    peak = max(1, *known)
    plot_w = WIDTH - PAD_LEFT - 6
    plot_h = HEIGHT - PAD_BOTTOM - PAD_TOP
    step = plot_w / max(1, len(values) - 1)
    points = " ".join(
        f"{PAD_LEFT + n * step:.1f},{PAD_TOP + plot_h - value / peak * plot_h:.1f}"
        for n, (_, value) in enumerate(values)
        if value is not None
    )
    return format_html(
        '<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-labelledby="{id}">'
        '<title id="{id}">{title}</title>{grid}'
        '<polyline fill="none" stroke="#7c3aed" stroke-width="2" points="{points}"/>'
        '<text x="{left}" y="{bottom}" font-size="11" fill="#475467">{first}</text>'
        '<text x="{right}" y="{bottom}" font-size="11" fill="#475467"'
        ' text-anchor="end">{last}</text></svg>',
        w=WIDTH,
        h=HEIGHT,
        id=element_id,
        title=title,
        grid=_grid(peak, str),
        points=points,
        left=PAD_LEFT,
        right=WIDTH - 6,
        bottom=HEIGHT - 6,
        first=values[0][0].isoformat(),
        last=values[-1][0].isoformat(),
    )


def bars(
    values: Sequence[tuple[str, float | None]],
    *,
    title: str,
    element_id: str,
    value_label: Callable[[float], str] = lambda value: f"{value:g}",
    peak: float | None = None,
) -> SafeString:
    """Vertical bars with their value written above and their label below (a week, a
    bucket of minutes); a missing value leaves its place empty."""
    known = [value for _, value in values if value is not None]
    if not values or not known:
        return SafeString("")
    top = peak or max(1.0, *known)
    plot_w = WIDTH - PAD_LEFT - 6
    plot_h = HEIGHT - PAD_BOTTOM - PAD_TOP - 12
    slot = plot_w / len(values)
    width = max(2.0, slot * 0.7)
    label_every = max(1, math.ceil(len(values) / 12))
    parts = []
    for n, (label, value) in enumerate(values):
        x = PAD_LEFT + n * slot + (slot - width) / 2
        if value is not None:
            height = value / top * plot_h
            y = PAD_TOP + 12 + plot_h - height
            parts.append(
                format_html(
                    '<rect x="{}" y="{}" width="{}" height="{}" fill="#2563eb">'
                    "<title>{}: {}</title></rect>",
                    f"{x:.1f}",
                    f"{y:.1f}",
                    f"{width:.1f}",
                    f"{height:.1f}",
                    label,
                    value_label(value),
                )
            )
            if len(values) <= 16:
                parts.append(
                    format_html(
                        '<text x="{}" y="{}" font-size="10" fill="#344054"'
                        ' text-anchor="middle">{}</text>',
                        f"{x + width / 2:.1f}",
                        f"{y - 3:.1f}",
                        value_label(value),
                    )
                )
        if n % label_every == 0:
            parts.append(
                format_html(
                    '<text x="{}" y="{}" font-size="10" fill="#475467"'
                    ' text-anchor="middle">{}</text>',
                    f"{x + width / 2:.1f}",
                    HEIGHT - 6,
                    label,
                )
            )
    return format_html(
        '<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-labelledby="{id}">'
        '<title id="{id}">{title}</title>{bars}</svg>',
        w=WIDTH,
        h=HEIGHT,
        id=element_id,
        title=title,
        bars=SafeString("".join(parts)),
    )


DAYS_SHORT = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def heat_map(
    grid: Sequence[Sequence[int]],
    *,
    title: str,
    element_id: str,
    link: Callable[[int, int], str] | None = None,
) -> SafeString:
    """Weekdays down, hours across; the darker a cell, the more tickets were created then
    (its count in its tooltip and in the table beside it for screen readers). With `link`
    (weekday, hour → address), a cell with tickets links to them."""
    if not grid or not any(any(row) for row in grid):
        return SafeString("")
    peak = max(max(row) for row in grid)
    cell_w, cell_h, left, top = 22, 20, 36, 16
    parts = []
    for hour in range(0, 24, 3):
        parts.append(
            format_html(
                '<text x="{}" y="{}" font-size="10" fill="#475467">{}</text>',
                left + hour * cell_w + 2,
                top - 4,
                f"{hour:02d}",
            )
        )
    for day, row in enumerate(grid):
        y = top + day * cell_h
        parts.append(
            format_html(
                '<text x="0" y="{}" font-size="11" fill="#475467">{}</text>',
                y + cell_h - 6,
                DAYS_SHORT[day],
            )
        )
        for hour, count in enumerate(row):
            shade = count / peak if peak else 0
            cell = format_html(
                '<rect x="{}" y="{}" width="{}" height="{}" fill="#1d4ed8"'
                ' fill-opacity="{}" stroke="#e4e7ec"><title>{} {}:00, {} created</title>'
                "</rect>",
                left + hour * cell_w,
                y,
                cell_w,
                cell_h,
                f"{0.04 + 0.96 * shade:.2f}",
                DAYS_SHORT[day],
                f"{hour:02d}",
                count,
            )
            if link is not None and count:
                cell = format_html(
                    '<a href="{}" class="heat-cell" data-weekday="{}" data-hour="{}"'
                    ' data-count="{}">{}</a>',
                    link(day, hour),
                    day,
                    hour,
                    count,
                    cell,
                )
            parts.append(cell)
    return format_html(
        '<svg class="chart heat-map" viewBox="0 0 {w} {h}" role="img" aria-labelledby="{id}">'
        '<title id="{id}">{title}</title>{cells}</svg>',
        w=left + 24 * cell_w + 2,
        h=top + 7 * cell_h + 2,
        id=element_id,
        title=title,
        cells=SafeString("".join(parts)),
    )


def _grid(peak: float, label: Callable[[float], str]) -> SafeString:
    plot_h = HEIGHT - PAD_BOTTOM - PAD_TOP
    return format_html_join(
        "",
        '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#d0d5dd" stroke-width="1"/>'
        '<text x="{}" y="{}" font-size="11" fill="#475467" text-anchor="end">{}</text>',
        (
            (
                PAD_LEFT,
                WIDTH - 6,
                f"{PAD_TOP + plot_h - fraction * plot_h:.1f}",
                f"{PAD_TOP + plot_h - fraction * plot_h:.1f}",
                PAD_LEFT - 4,
                f"{PAD_TOP + plot_h - fraction * plot_h + 4:.1f}",
                label(round(fraction * peak)),
            )
            for fraction in (0, 0.5, 1)
        ),
    )
