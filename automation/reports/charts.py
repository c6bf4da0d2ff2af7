"""Server-rendered SVG charts for the reports page (no script, no CDN): they scale to the
width of the page and print as they are."""

from __future__ import annotations

import datetime
from collections.abc import Sequence

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
