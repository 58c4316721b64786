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


def test_it_onboards_the_partner_apps_customers(db: Any, monkeypatch: Any) -> None:
    """Two customers consented to the demo partner app (connected through it), one not yet
    (a pending consent link); a second start adds nothing."""
    from tenantatlas.onboarding.models import Onboarding, OnboardingStatus
    from tenantatlas.providers.models import PartnerApp

    monkeypatch.setenv("TENANTATLAS_DEMO_PASSWORD", "demo-password-for-tests")
    for _ in range(2):
        call_command("demo", stdout=io.StringIO())

    partner_app = PartnerApp.objects.get(workspace__slug="demo")
    assert str(partner_app.client_id) == "6c1e3a5b-7d9f-4b2d-8a4c-0e2f4a6b8d9c"
    customers = sorted(partner_app.connections.values_list("display_name", flat=True))
    assert customers == ["Coho Winery", "Wide World Importers"]
    pending = Onboarding.objects.get(workspace__slug="demo")
    assert pending.customer_name == "Fourth Coffee"
    assert pending.status == OnboardingStatus.PENDING
