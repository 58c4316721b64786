"""The demo workspace fills its overview by itself: each new connection is checked at once and
has daily sync and snapshot schedules whose first runs come a little later."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from django.core.management import call_command
from django.utils import timezone

from tenantatlas.operations.models import OperationRun, OperationSchedule
from tenantatlas.providers.models import ProviderConnection


def test_it_checks_every_new_demo_connection_and_schedules_its_sync_and_snapshot(
    db: Any, monkeypatch: Any, django_capture_on_commit_callbacks: Any
) -> None:
    monkeypatch.setenv("TENANTATLAS_DEMO_PASSWORD", "demo-password-for-tests")
    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=False):
        call_command("demo", stdout=io.StringIO())
    connections = ProviderConnection.objects.filter(workspace__slug="demo")
    assert connections.count() >= 5

    checks = OperationRun.objects.filter(operation_type="provider.health_check", status="queued")
    assert sorted(checks.values_list("connection_id", flat=True)) == sorted(
        connections.values_list("pk", flat=True)
    )
    for conn in connections:
        schedules = {s.operation_type: s for s in OperationSchedule.objects.filter(connection=conn)}
        assert set(schedules) == {"inventory.sync", "compliance.snapshot"}
        assert all(s.interval_minutes == 24 * 60 for s in schedules.values())
        sync, snapshot = schedules["inventory.sync"], schedules["compliance.snapshot"]
        assert before < sync.next_run_at < snapshot.next_run_at < before + dt.timedelta(hours=1)

    with django_capture_on_commit_callbacks(execute=False):
        call_command("demo", stdout=io.StringIO())  # a second start adds nothing
    assert OperationRun.objects.count() == connections.count()
    assert OperationSchedule.objects.count() == 2 * connections.count()
