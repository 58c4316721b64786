"""The demo workspace starts with a few days of change history: Contoso's declared mutations
replayed through real syncs against the HTTPS simulator, each dated on its own day, attributed
to the simulated admins when the tenant's audit log names them, and recorded only once."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
from typing import Any

from django.core.management import call_command
from django.utils import timezone

from tenantatlas.inventory.models import InventoryItem, ItemChange, TenantSummary
from tenantatlas.operations.models import OperationRun
from tenantatlas.operations.tests.processes import free_port
from tenantatlas.providers.models import ProviderConnection

CONTOSO = "5a1c0e4b-7f2d-4c8e-9b6a-3d2f1e0c9b8a"
SYNC = "inventory.sync"
MEGAN = "megan.bowen@contoso.onmicrosoft.com"
ADELE = "adele.vance@contoso.onmicrosoft.com"
# What demo.toml declares, by the day it is detected on (days ago): (kind, change, paths, actor).
# Devices are never attributed (they change without an admin), audited or not.
EXPECTED = {
    2: [
        ("compliance_policy", "changed", ["passwordMinimumLength"], MEGAN),
        ("managed_device", "changed", ["complianceState"], ""),
    ],
    1: [
        ("device_configuration", "changed", ["bluetoothBlockAdvertising"], ADELE),
        ("device_configuration", "created", [], MEGAN),
        ("managed_device", "changed", ["osVersion"], ""),
        ("mobile_app", "changed", ["displayName"], ADELE),
    ],
    0: [
        ("compliance_policy", "changed", ["passcodeMinimumLength"], MEGAN),
        ("managed_device", "changed", ["managedDeviceOwnerType"], ""),
        ("mobile_app", "removed", [], MEGAN),
    ],
}


def _at(moment: dt.datetime | None) -> dt.datetime:
    assert moment is not None
    return moment


def _demo() -> str:
    out = io.StringIO()
    call_command("demo", stdout=out, stderr=out)
    return out.getvalue()


def _history() -> dict[int, list[tuple[str, str, list[str], str]]]:
    today = timezone.now().date()
    found: dict[int, list[tuple[str, str, list[str], str]]] = {}
    changes = ItemChange.objects.filter(workspace__slug="demo").order_by("kind", "change_type")
    for c in changes:
        row = (c.kind, c.change_type, [d["path"] for d in c.changes], c.actor)
        found.setdefault((today - c.detected_at.date()).days, []).append(row)
    return {days: sorted(rows) for days, rows in found.items()}


def test_the_demo_starts_with_three_days_of_attributed_history_recorded_once(
    sim: Any, db: Any, monkeypatch: Any, django_capture_on_commit_callbacks: Any
) -> None:
    monkeypatch.setenv("TENANTATLAS_DEMO_PASSWORD", "demo-password-for-tests")
    # Contoso as the demo declares it, with fewer devices (the mutated ones among them): four
    # syncs of 5,000 devices would only make the test slow.
    sim.add_tenant(dataclasses.replace(sim.get_tenant(CONTOSO), device_count=200))
    with django_capture_on_commit_callbacks(execute=True):
        output = _demo()

    assert "Contoso Ltd: 9 changes over 4 syncs." in output, output
    assert _history() == EXPECTED
    contoso = ProviderConnection.objects.get(workspace__slug="demo", entra_tenant_id=CONTOSO)
    now = timezone.now()
    syncs = list(
        OperationRun.objects.filter(connection=contoso, operation_type=SYNC).order_by("pk")
    )
    assert [run.status for run in syncs] == ["succeeded"] * 4
    runs = [(run.created_at, _at(run.started_at), _at(run.finished_at)) for run in syncs]
    for days_ago, (created, started, finished) in zip((3, 2, 1, 0), runs, strict=True):
        assert created <= started <= finished
        assert abs(now - days_ago * dt.timedelta(days=1) - finished) < dt.timedelta(minutes=5)
    summary = TenantSummary.objects.get(connection=contoso)
    assert summary.last_sync_run_id == syncs[-1].pk
    assert runs[-2][2] < runs[-1][1] <= _at(summary.last_sync_at)
    baseline = InventoryItem.objects.filter(connection=contoso).order_by("first_seen_at").first()
    assert baseline is not None
    assert runs[0][1] <= baseline.first_seen_at <= runs[0][2]

    # Each change lies in its dated window, and so does the audit event it is attributed to.
    audited = {m.item_id: m for m in sim.mutations(CONTOSO) if m.audit_event_id}
    for change in ItemChange.objects.filter(connection=contoso).select_related("item"):
        previous = change.previous_seen_at
        assert previous is None or previous < change.detected_at
        if not change.actor:
            continue
        mutation = audited[change.item.external_id]
        assert (change.audit_event_id, change.activity_at) == (mutation.audit_event_id, mutation.at)
        activity_at = _at(change.activity_at)
        assert previous is None or previous < activity_at
        assert activity_at <= change.detected_at

    # A restarted simulator is back at generation 0: the next start moves Contoso on again and
    # replays nothing.
    sim.set_generation(CONTOSO, 0)
    with django_capture_on_commit_callbacks(execute=True):
        _demo()
    assert sim.get_tenant(CONTOSO).generation == 3
    assert _history() == EXPECTED
    assert OperationRun.objects.filter(connection=contoso, operation_type=SYNC).count() == 4


def test_the_demo_is_seeded_without_history_when_the_simulator_cannot_be_reached(
    db: Any, monkeypatch: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    monkeypatch.setenv("TENANTATLAS_DEMO_PASSWORD", "demo-password-for-tests")
    settings.SIMULATOR_URL = f"https://127.0.0.1:{free_port()}"  # nothing listens there
    with django_capture_on_commit_callbacks(execute=False):
        output = _demo()

    assert "Contoso Ltd: no change history replayed: the simulator at" in output, output
    assert ProviderConnection.objects.filter(workspace__slug="demo").count() >= 5
    assert not OperationRun.objects.filter(operation_type=SYNC).exists()
    assert not ItemChange.objects.exists()
    checks = OperationRun.objects.filter(operation_type="provider.health_check", status="queued")
    assert checks.count() == ProviderConnection.objects.filter(workspace__slug="demo").count()
