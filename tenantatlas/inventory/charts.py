"""Server-rendered SVG charts: no JavaScript, no chart library, escaped text only.

`compliance_trend` lays compliance snapshots out as stacked areas over time (one band per Graph
`complianceState`, labelled as `ComplianceState` labels it) with the stale count as a dashed
line: coordinates, ticks, labels and CSS classes, as plain data. The template
`inventory/_compliance_trend.svg` draws that data (the colours are in app.css, so the page keeps
to its style-src policy), and `compliance_trend_svg` renders it. Both are pure functions of
their input: they are unit-tested without a database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from tenantatlas.inventory.models import ComplianceState


class Series(NamedTuple):
    """One band: the snapshot column it counts, its label and the CSS class that colours it."""

    column: str
    label: str
    css_class: str


def _series(state: ComplianceState) -> Series:
    # A ComplianceSnapshot column is the state's member name in lower case (IN_GRACE_PERIOD →
    # in_grace_period); the label is the state's own.
    column = state.name.lower()
    return Series(column, str(state.label), f"series-{column.replace('_', '-')}")


# Bottom band first.
SERIES: tuple[Series, ...] = tuple(
    _series(state)
    for state in (
        ComplianceState.COMPLIANT,
        ComplianceState.IN_GRACE_PERIOD,
        ComplianceState.CONFLICT,
        ComplianceState.NONCOMPLIANT,
        ComplianceState.ERROR,
        ComplianceState.CONFIG_MANAGER,
        ComplianceState.UNKNOWN,
    )
)
STALE = Series("stale", "Stale", "series-stale")
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 28
LEGEND_HEIGHT = 22


class SnapshotLike(Protocol):
    """What the chart reads of a snapshot (read-only: a model field or a property will do)."""

    @property
    def taken_at(self) -> dt.datetime: ...
    @property
    def compliant(self) -> int: ...
    @property
    def noncompliant(self) -> int: ...
    @property
    def in_grace_period(self) -> int: ...
    @property
    def conflict(self) -> int: ...
    @property
    def error(self) -> int: ...
    @property
    def unknown(self) -> int: ...
    @property
    def config_manager(self) -> int: ...
    @property
    def stale(self) -> int: ...


@dataclass(frozen=True)
class Polygon:
    """A filled band (or, for one snapshot, a bar) with its tooltip."""

    series: Series
    points: str


@dataclass(frozen=True)
class Tick:
    """A horizontal grid line with its value label."""

    y: str
    label_y: str
    label: str


@dataclass(frozen=True)
class Marker:
    """A hover target on top of a snapshot's stack, titled with its counts."""

    x: str
    y: str
    title: str


@dataclass(frozen=True)
class DateLabel:
    x: str
    text: str
    anchor: str


@dataclass(frozen=True)
class LegendEntry:
    series: Series
    x: int

    @property
    def text_x(self) -> int:
        return self.x + 14


@dataclass(frozen=True)
class TrendChart:
    """Everything the template draws; numbers are already formatted for SVG attributes."""

    width: int
    view_height: int
    title: str
    description: str
    empty: bool = False
    grid_left: int = LEFT
    grid_right: int = 0
    axis_y: int = 0
    legend_y: int = 0
    ticks: tuple[Tick, ...] = ()
    polygons: tuple[Polygon, ...] = ()
    stale_line: str = ""
    markers: tuple[Marker, ...] = ()
    dates: tuple[DateLabel, ...] = ()
    legend: tuple[LegendEntry, ...] = ()

    @property
    def centre_x(self) -> str:
        return f"{self.width / 2:.0f}"

    @property
    def tick_label_x(self) -> int:
        return self.grid_left - 6

    @property
    def legend_text_y(self) -> int:
        return self.legend_y + 9


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


def _counts(snapshot: SnapshotLike) -> str:
    return "; ".join(f"{s.label} {getattr(snapshot, s.column)}" for s in SERIES)


class _Plot:
    """Maps snapshot times and counts to plot coordinates."""

    def __init__(self, points: Sequence[SnapshotLike], width: int, height: int) -> None:
        self.points = points
        self.width, self.height = width - LEFT - RIGHT, height - TOP - BOTTOM
        self.totals = [sum(getattr(p, s.column) for s in SERIES) for p in points]
        self.y_max = _nice_ceiling(max([*self.totals, *(p.stale for p in points)]))
        self.start = points[0].taken_at.timestamp()
        self.span = points[-1].taken_at.timestamp() - self.start
        self.xs = [self.x(i) for i in range(len(points))]
        # A single snapshot is drawn as a bar of a tenth of the width.
        self.half_bar = self.width / 20 if len(points) == 1 else 0

    def x(self, i: int) -> float:
        if len(self.points) == 1:
            return LEFT + self.width / 2
        if self.span <= 0:
            return LEFT + self.width * i / (len(self.points) - 1)
        return LEFT + self.width * (self.points[i].taken_at.timestamp() - self.start) / self.span

    def y(self, value: float) -> float:
        return TOP + self.height - self.height * value / self.y_max

    def path(self, edge: Sequence[tuple[float, float]]) -> str:
        return " ".join(f"{_fmt(px)},{_fmt(self.y(v))}" for px, v in edge)


def _polygons(plot: _Plot) -> tuple[Polygon, ...]:
    """Stacked bands, bottom first; a band with nothing in it is left out."""
    points, xs, half_bar = plot.points, plot.xs, plot.half_bar
    polygons = []
    lower = [0] * len(points)
    for series in SERIES:
        upper = [base + getattr(p, series.column) for base, p in zip(lower, points, strict=True)]
        if upper != lower:
            top_edge = [(xs[i] - half_bar, upper[i]) for i in range(len(points))]
            if half_bar:
                top_edge.append((xs[0] + half_bar, upper[0]))
            bottom_edge = [(xs[i] + half_bar, lower[i]) for i in reversed(range(len(points)))]
            if half_bar:
                bottom_edge.append((xs[0] - half_bar, lower[0]))
            polygons.append(Polygon(series, plot.path([*top_edge, *bottom_edge])))
        lower = upper
    return tuple(polygons)


def _dates(plot: _Plot) -> tuple[DateLabel, ...]:
    """X-axis labels: first and last date (one label when they coincide)."""
    first, last = plot.points[0].taken_at, plot.points[-1].taken_at
    single = len(plot.points) == 1
    dates = [DateLabel(_fmt(plot.xs[0]), f"{first:%Y-%m-%d}", "middle" if single else "start")]
    if not single and f"{first:%Y-%m-%d %H:%M}" != f"{last:%Y-%m-%d %H:%M}":
        dates.append(DateLabel(_fmt(plot.xs[-1]), f"{last:%Y-%m-%d}", "end"))
    return tuple(dates)


def _legend() -> tuple[LegendEntry, ...]:
    entries, x = [], LEFT
    for series in (*SERIES, STALE):
        entries.append(LegendEntry(series, x))
        x += 22 + 6 * len(series.label)
    return tuple(entries)


def compliance_trend(
    snapshots: Sequence[SnapshotLike],
    *,
    width: int = 720,
    height: int = 240,
    title: str = "Compliance trend",
    legend: bool = True,
) -> TrendChart:
    """The chart of `snapshots` (any order) as stacked areas over time, as plain data.

    Without `legend` the page draws its own (the compliance page's, linked and wrapping).
    """
    points = sorted(snapshots, key=lambda s: s.taken_at)
    if not points:
        # A short strip, not an empty plot area the size of a chart.
        return TrendChart(width, 40, title, "No compliance snapshots yet.", empty=True)
    plot = _Plot(points, width, height)
    latest = points[-1]
    summary = ", ".join(f"{s.label} {getattr(latest, s.column)}" for s in SERIES)
    stale_line = ""
    if any(p.stale for p in points) and len(points) > 1:
        stale_line = plot.path([(plot.xs[i], p.stale) for i, p in enumerate(points)])
    return TrendChart(
        width=width,
        view_height=height + (LEGEND_HEIGHT if legend else 0),
        title=title,
        description=(
            f"{len(points)} snapshots from {points[0].taken_at:%Y-%m-%d} to "
            f"{latest.taken_at:%Y-%m-%d}. Latest: {summary}, stale {latest.stale}."
        ),
        grid_right=LEFT + plot.width,
        axis_y=TOP + plot.height + 16,
        legend_y=height + 8,
        # Grid and y-axis labels at 0, ½ and the maximum.
        ticks=tuple(
            Tick(_fmt(plot.y(value)), _fmt(plot.y(value) + 4), _fmt(value))
            for value in (0, plot.y_max / 2, plot.y_max)
        ),
        polygons=_polygons(plot),
        stale_line=stale_line,
        markers=tuple(
            Marker(
                _fmt(plot.xs[i]),
                _fmt(plot.y(plot.totals[i])),
                f"{p.taken_at:%Y-%m-%d %H:%M}: {_counts(p)}; stale {p.stale}",
            )
            for i, p in enumerate(points)
        ),
        dates=_dates(plot),
        legend=_legend() if legend else (),
    )


def compliance_trend_svg(
    snapshots: Sequence[SnapshotLike],
    *,
    width: int = 720,
    height: int = 240,
    title: str = "Compliance trend",
    legend: bool = True,
) -> SafeString:
    """The chart as an inline SVG element (every text in it escaped by the template)."""
    chart = compliance_trend(snapshots, width=width, height=height, title=title, legend=legend)
    return render_to_string("inventory/_compliance_trend.svg", {"chart": chart})
