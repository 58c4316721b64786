"""Server-rendered SVG charts: no JavaScript, no chart library, escaped text only.

`compliance_trend_svg` draws compliance snapshots as stacked areas over time (one band per
Graph `complianceState`), with the stale count as a dashed line. It is a pure function of
its input, so it is unit-tested without a database or a template.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from html import escape
from typing import Protocol

# (attribute, label, colour): bottom band first. Colours follow the badge tones.
SERIES: tuple[tuple[str, str, str], ...] = (
    ("compliant", "Compliant", "#1e7a3c"),
    ("in_grace_period", "In grace period", "#d99a00"),
    ("conflict", "Conflict", "#e8710a"),
    ("noncompliant", "Not compliant", "#b42318"),
    ("error", "Error", "#7a1a12"),
    ("config_manager", "Config Manager", "#175cd3"),
    ("unknown", "Unknown", "#98a2b3"),
)
STALE_COLOUR = "#344054"


class SnapshotLike(Protocol):
    taken_at: dt.datetime
    compliant: int
    noncompliant: int
    in_grace_period: int
    conflict: int
    error: int
    unknown: int
    config_manager: int
    stale: int


def _nice_ceiling(value: int) -> int:
    """A round axis maximum ≥ value: 1, 2, 5 × 10ⁿ."""
    if value <= 0:
        return 1
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            if step * magnitude >= value:
                return step * magnitude
        magnitude *= 10


def _fmt(number: float) -> str:
    return f"{number:.1f}".rstrip("0").rstrip(".")


def compliance_trend_svg(
    snapshots: Sequence[SnapshotLike],
    *,
    width: int = 720,
    height: int = 240,
    title: str = "Compliance trend",
) -> str:
    """An SVG document fragment charting `snapshots` (any order) as stacked areas over time."""
    left, right, top, bottom = 48, 12, 12, 28
    legend_height = 22
    plot_w, plot_h = width - left - right, height - top - bottom
    total_h = height + legend_height
    points = sorted(snapshots, key=lambda s: s.taken_at)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart compliance-trend" role="img" '
        f'viewBox="0 0 {width} {total_h}" width="100%" preserveAspectRatio="xMidYMid meet" '
        f'aria-labelledby="chart-title chart-desc">',
        f'<title id="chart-title">{escape(title)}</title>',
    ]
    if not points:
        # A short strip, not an empty plot area the size of a chart.
        parts[0] = parts[0].replace(f"0 0 {width} {total_h}", f"0 0 {width} 40")
        parts.append('<desc id="chart-desc">No compliance snapshots yet.</desc>')
        parts.append(
            f'<text x="{width / 2:.0f}" y="24" text-anchor="middle" font-size="13" '
            f'class="chart-empty">No compliance snapshots yet</text></svg>'
        )
        return "".join(parts)

    latest = points[-1]
    summary = ", ".join(f"{label} {getattr(latest, attr)}" for attr, label, _ in SERIES)
    parts.append(
        f'<desc id="chart-desc">{len(points)} snapshots from {points[0].taken_at:%Y-%m-%d} to '
        f"{latest.taken_at:%Y-%m-%d}. Latest: {escape(summary)}, stale {latest.stale}.</desc>"
    )

    totals = [sum(getattr(p, attr) for attr, _, _ in SERIES) for p in points]
    y_max = _nice_ceiling(max([*totals, *(p.stale for p in points)]))
    start = points[0].taken_at.timestamp()
    span = points[-1].taken_at.timestamp() - start

    def x(i: int) -> float:
        if len(points) == 1:
            return left + plot_w / 2
        if span <= 0:
            return left + plot_w * i / (len(points) - 1)
        return left + plot_w * (points[i].taken_at.timestamp() - start) / span

    def y(value: float) -> float:
        return top + plot_h - plot_h * value / y_max

    # Grid and y-axis labels at 0, ½ and the maximum.
    for value in (0, y_max / 2, y_max):
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{_fmt(y(value))}" y2="{_fmt(y(value))}" '
            f'stroke="#d0d5dd" stroke-width="1"/>'
            f'<text x="{left - 6}" y="{_fmt(y(value) + 4)}" text-anchor="end" font-size="11">'
            f"{_fmt(value)}</text>"
        )

    # A single snapshot is drawn as a bar of a tenth of the width.
    half_bar = plot_w / 20 if len(points) == 1 else 0
    xs = [x(i) for i in range(len(points))]
    lower = [0] * len(points)
    for attr, label, colour in SERIES:
        upper = [base + getattr(p, attr) for base, p in zip(lower, points, strict=True)]
        if upper != lower:
            top_edge = [(xs[i] - half_bar, upper[i]) for i in range(len(points))]
            if half_bar:
                top_edge.append((xs[0] + half_bar, upper[0]))
            bottom_edge = [(xs[i] + half_bar, lower[i]) for i in reversed(range(len(points)))]
            if half_bar:
                bottom_edge.append((xs[0] - half_bar, lower[0]))
            path = " ".join(f"{_fmt(px)},{_fmt(y(v))}" for px, v in [*top_edge, *bottom_edge])
            parts.append(
                f'<polygon points="{path}" fill="{colour}" fill-opacity="0.8" data-series="{attr}">'
                f"<title>{escape(label)}</title></polygon>"
            )
        lower = upper

    if any(p.stale for p in points) and len(points) > 1:
        line = " ".join(f"{_fmt(xs[i])},{_fmt(y(p.stale))}" for i, p in enumerate(points))
        parts.append(
            f'<polyline points="{line}" fill="none" stroke="{STALE_COLOUR}" stroke-width="2" '
            f'stroke-dasharray="5 4" data-series="stale"><title>Stale</title></polyline>'
        )

    # Hover targets: one invisible column per snapshot with its counts.
    for i, p in enumerate(points):
        counts = "; ".join(f"{label} {getattr(p, attr)}" for attr, label, _ in SERIES)
        parts.append(
            f'<circle cx="{_fmt(xs[i])}" cy="{_fmt(y(totals[i]))}" r="3" fill="#101828">'
            f"<title>{p.taken_at:%Y-%m-%d %H:%M}: {escape(counts)}; stale {p.stale}</title></circle>"
        )

    # X-axis labels: first and last date (one label when they coincide).
    axis_y = top + plot_h + 16
    first, last = points[0].taken_at, points[-1].taken_at
    parts.append(
        f'<text x="{_fmt(xs[0])}" y="{axis_y}" font-size="11" '
        f'text-anchor="{"middle" if len(points) == 1 else "start"}">{first:%Y-%m-%d}</text>'
    )
    if len(points) > 1 and f"{first:%Y-%m-%d %H:%M}" != f"{last:%Y-%m-%d %H:%M}":
        parts.append(
            f'<text x="{_fmt(xs[-1])}" y="{axis_y}" font-size="11" text-anchor="end">{last:%Y-%m-%d}</text>'
        )

    # Legend.
    legend_x, legend_y = left, height + 8
    for attr, label, colour in (*SERIES, ("stale", "Stale", STALE_COLOUR)):
        parts.append(
            f'<rect x="{legend_x}" y="{legend_y}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{legend_x + 14}" y="{legend_y + 9}" font-size="11" data-legend="{attr}">'
            f"{escape(label)}</text>"
        )
        legend_x += 22 + 6 * len(label)
    parts.append("</svg>")
    return "".join(parts)
