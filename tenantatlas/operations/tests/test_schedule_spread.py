"""Schedules are spread over their period: a stable point per connection (and operation type),
so hundreds of daily syncs set up at once do not fire in the same second."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from collections import Counter
from typing import Any

from django.utils import timezone

from tenantatlas.operations.models import OperationRun, OperationSchedule
from tenantatlas.operations.schedules import (
    fire_due_schedules,
    next_run_at,
    set_schedule,
    spread_offset,
)
from tenantatlas.providers.models import ProviderConnection

DAY = 24 * 60
HANDFUL = 4  # at most this many schedules may share a minute


def _connections(workspace: Any, count: int) -> list[ProviderConnection]:
    return ProviderConnection.objects.bulk_create(
        ProviderConnection(
            workspace=workspace, display_name=f"Tenant {i:03d}", entra_tenant_id=uuid.uuid4()
        )
        for i in range(count)
    )


def _per_minute(times: list[dt.datetime]) -> Counter[int]:
    return Counter(int(t.timestamp()) // 60 for t in times)


def test_it_spreads_200_daily_schedules_over_the_day() -> None:
    after = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)

    times = [
        next_run_at(
            connection_id=pk, operation_type="inventory.sync", interval_minutes=DAY, after=after
        )
        for pk in range(1, 201)
    ]

    assert all(after < t <= after + dt.timedelta(days=1) for t in times)
    assert max(_per_minute(times).values()) <= HANDFUL
    hours = Counter(t.hour for t in times)
    assert len(hours) == 24, "every hour of the day gets some"
    assert max(hours.values()) <= 20  # 8.3 an hour on average


def test_it_is_a_pure_function_of_the_schedule() -> None:
    """The same answer in every process and after every restart: known values, not hash()."""
    assert spread_offset(
        connection_id=1, operation_type="inventory.sync", interval_minutes=DAY
    ) == (spread_offset(connection_id=1, operation_type="inventory.sync", interval_minutes=DAY))
    assert [
        spread_offset(connection_id=pk, operation_type="inventory.sync", interval_minutes=DAY)
        for pk in (1, 2, 3)
    ] == [KNOWN_OFFSETS[pk] for pk in (1, 2, 3)]
    after = dt.datetime(2026, 3, 1, 0, 0, tzinfo=dt.UTC)
    first = next_run_at(
        connection_id=1, operation_type="inventory.sync", interval_minutes=DAY, after=after
    )
    assert first == after + dt.timedelta(seconds=KNOWN_OFFSETS[1])


# SHA-256 of "connection:<id>", first 8 bytes, mod 86,400 s, plus the sync's third of the day.
KNOWN_OFFSETS = {1: 40_367, 2: 83_021, 3: 1_881}


def test_it_fires_on_the_same_grid_point_every_period_even_when_late() -> None:
    after = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    kwargs: dict[str, Any] = {
        "connection_id": 42,
        "operation_type": "provider.health_check",
        "interval_minutes": DAY,
    }
    first = next_run_at(**kwargs, after=after)

    on_time = next_run_at(**kwargs, after=first)
    three_hours_late = next_run_at(**kwargs, after=first + dt.timedelta(hours=3))
    two_days_late = next_run_at(**kwargs, after=first + dt.timedelta(days=2, minutes=5))

    assert on_time == first + dt.timedelta(days=1), "strictly after the point it fired at"
    assert three_hours_late == first + dt.timedelta(days=1)
    assert two_days_late == first + dt.timedelta(days=3)


def test_it_keeps_a_connections_operations_a_third_of_the_period_apart() -> None:
    offsets = sorted(
        spread_offset(connection_id=7, operation_type=op, interval_minutes=60)
        for op in ("provider.health_check", "inventory.sync", "compliance.snapshot")
    )

    gaps = [b - a for a, b in itertools.pairwise(offsets)]
    gaps.append(3600 - offsets[-1] + offsets[0])
    assert sorted(gaps) == [1200, 1200, 1200]


def test_it_spreads_schedules_set_in_the_same_minute_and_fires_only_a_few_at_once(
    acme: Any, alice: Any
) -> None:
    connections = _connections(acme, 200)
    for connection in connections:
        set_schedule(
            actor=alice,
            connection=connection,
            operation_type="inventory.sync",
            interval_minutes=DAY,
        )
    now = timezone.now()
    times = list(OperationSchedule.objects.values_list("next_run_at", flat=True))

    assert all(now - dt.timedelta(minutes=5) < t <= now + dt.timedelta(days=1) for t in times)
    assert max(_per_minute(times).values()) <= HANDFUL
    first = min(times)
    counts = fire_due_schedules(now=first + dt.timedelta(seconds=30))
    assert 1 <= counts["started"] <= HANDFUL
    assert OperationRun.objects.count() == counts["started"]


def test_it_keeps_the_spread_when_the_interval_changes(acme: Any, alice: Any) -> None:
    connections = _connections(acme, 200)
    for connection in connections:
        set_schedule(
            actor=alice,
            connection=connection,
            operation_type="inventory.sync",
            interval_minutes=DAY,
        )
    for connection in connections:
        set_schedule(
            actor=alice,
            connection=connection,
            operation_type="inventory.sync",
            interval_minutes=360,
        )
    now = timezone.now()
    schedules = list(OperationSchedule.objects.all())
    times = [s.next_run_at for s in schedules]

    assert {s.interval_minutes for s in schedules} == {360}
    assert all(now - dt.timedelta(minutes=5) < t <= now + dt.timedelta(hours=6) for t in times)
    # 200 schedules over 360 minutes: more share a minute than over a day, still a handful.
    assert max(_per_minute(times).values()) <= HANDFUL + 2
    for schedule in schedules:
        offset = spread_offset(
            connection_id=schedule.connection_id,
            operation_type="inventory.sync",
            interval_minutes=360,
        )
        assert int(schedule.next_run_at.timestamp()) % (360 * 60) == offset


def test_a_schedule_saved_before_spreading_joins_its_grid_on_its_next_fire(
    acme: Any, alice: Any
) -> None:
    """Existing rows need no migration: they all fire once at their stored time, then spread."""
    connections = _connections(acme, 50)
    for connection in connections:
        set_schedule(
            actor=alice,
            connection=connection,
            operation_type="compliance.snapshot",
            interval_minutes=60,
        )
    legacy = timezone.now() + dt.timedelta(minutes=2)
    OperationSchedule.objects.update(next_run_at=legacy)  # as `now + interval` used to leave them

    counts = fire_due_schedules(now=legacy)

    assert counts["started"] == 50
    times = list(OperationSchedule.objects.values_list("next_run_at", flat=True))
    assert all(legacy < t <= legacy + dt.timedelta(hours=1) for t in times)
    assert max(_per_minute(times).values()) <= HANDFUL
