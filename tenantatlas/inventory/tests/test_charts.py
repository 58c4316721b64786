"""The compliance trend SVG is a pure function: test it without a database."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from types import SimpleNamespace
from typing import Any

from tenantatlas.inventory.charts import SERIES, _nice_ceiling, compliance_trend_svg
from tenantatlas.inventory.models import ComplianceSnapshot, ComplianceState

SVG = "{http://www.w3.org/2000/svg}"
T0 = dt.datetime(2026, 11, 1, 6, 0, tzinfo=dt.UTC)


def snap(day: float, **counts: int) -> Any:
    fields = {attr: 0 for attr, _, _ in SERIES} | {"stale": 0} | counts
    return SimpleNamespace(taken_at=T0 + dt.timedelta(days=day), **fields)


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def polygon_points(root: ET.Element, series: str) -> list[tuple[float, float]]:
    poly = root.find(f"{SVG}polygon[@data-series='{series}']")
    assert poly is not None, series
    return [tuple(map(float, p.split(","))) for p in poly.attrib["points"].split()]  # type: ignore[misc]


def test_it_says_so_when_there_are_no_snapshots() -> None:
    root = parse(compliance_trend_svg([]))

    assert "No compliance snapshots yet" in "".join(root.itertext())
    assert root.find(f"{SVG}polygon") is None


def test_it_stacks_bands_in_time_order_with_a_nice_axis() -> None:
    # Given newest first, as the database returns them.
    snapshots = [
        snap(2, compliant=80, noncompliant=15),
        snap(0, compliant=60, noncompliant=30, stale=7),
    ]

    svg = compliance_trend_svg(snapshots, width=720, height=240)
    root = parse(svg)

    # Plot area: x 48..708, y 12..212; axis max rounds 95 -> 100.
    compliant = polygon_points(root, "compliant")
    assert compliant[:2] == [(48.0, 92.0), (708.0, 52.0)]  # top edge: 60 then 80 of 100
    assert compliant[2:] == [(708.0, 212.0), (48.0, 212.0)]  # bottom edge at zero
    noncompliant = polygon_points(root, "noncompliant")
    assert noncompliant[:2] == [(48.0, 32.0), (708.0, 22.0)]  # stacked on top: 90, then 95
    assert root.find(f"{SVG}polygon[@data-series='error']") is None  # empty bands are skipped
    assert root.find(f"{SVG}polyline[@data-series='stale']") is not None
    assert ">100<" in svg
    assert ">2026-11-01<" in svg
    assert ">2026-11-03<" in svg
    assert "Latest: Compliant 80" in svg


def test_it_places_points_by_time_not_by_index() -> None:
    root = parse(
        compliance_trend_svg([snap(0, compliant=1), snap(1, compliant=1), snap(4, compliant=1)])
    )

    xs = [x for x, _ in polygon_points(root, "compliant")[:3]]
    assert xs == [48.0, 213.0, 708.0]


def test_it_draws_a_single_snapshot_as_a_bar() -> None:
    root = parse(compliance_trend_svg([snap(0, compliant=3, unknown=1)]))

    compliant = polygon_points(root, "compliant")
    assert len(compliant) == 4
    assert {x for x, _ in compliant} == {345.0, 411.0}
    assert root.find(f"{SVG}polyline") is None


def test_it_escapes_the_title_and_has_an_accessible_description() -> None:
    svg = compliance_trend_svg([snap(0, compliant=1)], title="<script>x</script> & co")

    assert "<script>" not in svg
    assert "&lt;script&gt;x&lt;/script&gt; &amp; co" in svg
    assert re.search(r'<svg [^>]*role="img"', svg)
    assert '<desc id="chart-desc">1 snapshots' in svg


def test_it_rounds_axis_maxima_to_1_2_5() -> None:
    assert [_nice_ceiling(v) for v in (0, 1, 3, 7, 10, 11, 95, 101, 4999, 250_001)] == [
        1,
        1,
        5,
        10,
        10,
        20,
        100,
        200,
        5000,
        500_000,
    ]


def test_it_keeps_the_empty_chart_short() -> None:
    assert 'viewBox="0 0 720 40"' in compliance_trend_svg([])


def test_it_charts_every_compliance_state_from_its_snapshot_column_with_its_label() -> None:
    columns = {field.name for field in ComplianceSnapshot._meta.get_fields()}

    assert {s.column for s in SERIES} <= columns
    assert sorted(s.label for s in SERIES) == sorted(ComplianceState.labels)
