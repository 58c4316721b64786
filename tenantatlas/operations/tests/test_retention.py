"""Retention: finished runs, audit events, notifications, finished task-queue rows and expired
sessions past their age go, oldest first, in bounded batches, audited per workspace."""

from __future__ import annotations

import datetime as dt
import io
import re
import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.db import connection, models, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tenantatlas.alerts.models import AlertEvent, EventKind, Severity
from tenantatlas.audit.models import AuditEvent
from tenantatlas.audit.services import record_event
from tenantatlas.inventory.models import (
    ComplianceSnapshot,
    InventoryItem,
    ItemChange,
    TenantSummary,
)
from tenantatlas.lib.actors import REAPER, SYSTEM
from tenantatlas.notifications.models import Notification
from tenantatlas.operations import retention
from tenantatlas.operations.models import OperationRun, OperationSchedule
from tenantatlas.operations.tests.factories import make_change, make_item, make_run, make_snapshot
from tenantatlas.testing import client_for, page_queries
from tenantatlas.workspaces.models import Workspace

DAY = dt.timedelta(days=1)
SECOND = dt.timedelta(seconds=1)
KINDS = ["runs", "audit_events", "notifications", "tasks", "sessions"]


# -- rows of each kind, dated ------------------------------------------------------------------


def _run(conn: Any, at: dt.datetime) -> int:
    return make_run(conn.workspace, conn, finished_at=at).pk


def _audit_event(conn: Any, at: dt.datetime) -> int:
    event = record_event(workspace=conn.workspace, actor=SYSTEM, action="test.happened")
    # Audit events are append-only; a test re-dates one past AuditEventQuerySet on purpose.
    models.QuerySet(AuditEvent).filter(pk=event.pk).update(created_at=at)
    return event.pk


def _notification(conn: Any, at: dt.datetime) -> int:
    user = conn.workspace.memberships.first().user
    note = Notification.objects.create(user=user, workspace=conn.workspace, kind="run", title="t")
    Notification.objects.filter(pk=note.pk).update(created_at=at)
    return note.pk


def _task(conn: Any, at: dt.datetime, status: str = "SUCCESSFUL") -> uuid.UUID:
    return DBTaskResult.objects.create(
        status=status,
        finished_at=at if status in {"SUCCESSFUL", "FAILED"} else None,
        args_kwargs={"args": [], "kwargs": {}},
        task_path="tenantatlas.operations.worker.execute_run",
        backend_name="default",
        run_after=at,
    ).pk


def _session(conn: Any, at: dt.datetime) -> str:
    return Session.objects.create(session_key=uuid.uuid4().hex, session_data="", expire_date=at).pk


MAKERS: dict[str, Callable[[Any, dt.datetime], Any]] = {
    "runs": _run,
    "audit_events": _audit_event,
    "notifications": _notification,
    "tasks": _task,
    "sessions": _session,
}


def _remaining(kind: str) -> set[Any]:
    rows = {
        "runs": OperationRun.objects.all(),
        "audit_events": AuditEvent.objects.filter(action="test.happened"),
        "notifications": Notification.objects.all(),
        "tasks": DBTaskResult.objects.all(),
        "sessions": Session.objects.all(),
    }[kind]
    return set(rows.values_list("pk", flat=True))


@pytest.fixture
def limits(settings: Any) -> dict[str, int]:
    """Days per kind, different from the defaults so the settings are seen to be read."""
    settings.RETENTION_RUNS_DAYS = 30
    settings.RETENTION_AUDIT_DAYS = 60
    settings.RETENTION_NOTIFICATIONS_DAYS = 20
    settings.RETENTION_TASKS_DAYS = 3
    return {"runs": 30, "audit_events": 60, "notifications": 20, "tasks": 3, "sessions": 0}


# -- what goes and what stays ------------------------------------------------------------------


def test_the_defaults_are_the_documented_ones(settings: Any) -> None:
    assert (
        settings.RETENTION_RUNS_DAYS,
        settings.RETENTION_AUDIT_DAYS,
        settings.RETENTION_NOTIFICATIONS_DAYS,
        settings.RETENTION_TASKS_DAYS,
    ) == (180, 365, 90, 7)


@pytest.mark.parametrize("kind", KINDS)
def test_it_removes_what_is_a_second_past_its_limit_and_keeps_what_is_a_second_short(
    limits: dict[str, int], contoso: Any, kind: str
) -> None:
    now = timezone.now()
    limit = now - limits[kind] * DAY
    young = MAKERS[kind](contoso, limit + SECOND)
    MAKERS[kind](contoso, limit - SECOND)

    removed = retention.prune(actor=REAPER, now=now)

    assert removed == {name: int(name == kind) for name in KINDS}
    assert _remaining(kind) == {young}


def test_it_never_removes_an_active_run_or_a_task_not_finished(
    limits: dict[str, int], contoso: Any
) -> None:
    now = timezone.now()
    ages_ago = now - 1000 * DAY
    ws = contoso.workspace
    queued = make_run(ws, contoso, status="queued", created_at=ages_ago)
    # No running run has a finished_at; this one has, and its status alone must keep it.
    running = make_run(ws, contoso, status="running", created_at=ages_ago, finished_at=ages_ago)
    make_run(ws, contoso, status="cancelled", created_at=ages_ago, finished_at=ages_ago)
    waiting = {_task(contoso, ages_ago, status) for status in ("READY", "RUNNING")}
    _task(contoso, ages_ago, "FAILED")

    removed = retention.prune(actor=REAPER, now=now)

    assert (removed["runs"], removed["tasks"]) == (1, 1)
    assert _remaining("runs") == {queued.pk, running.pk}
    assert _remaining("tasks") == waiting


def test_it_keeps_the_runs_named_as_latest_and_unlinks_history_from_the_rest(
    limits: dict[str, int], alice: Any, contoso: Any
) -> None:
    now = timezone.now()
    old = now - 100 * DAY
    ws = contoso.workspace
    last_sync = make_run(ws, contoso, finished_at=old)
    TenantSummary.objects.update_or_create(
        connection=contoso, defaults={"workspace": ws, "last_sync_run": last_sync}
    )
    scheduled = make_run(ws, contoso, finished_at=old, operation_type="compliance.snapshot")
    OperationSchedule.objects.create(
        workspace=ws,
        connection=contoso,
        operation_type="compliance.snapshot",
        interval_minutes=60,
        next_run_at=now,
        last_run=scheduled,
    )
    found = make_run(ws, contoso, finished_at=old)
    item = make_item(ws, contoso, last_seen_run=found)
    change = make_change(item, run=found, detected_at=old)
    snapshot = make_snapshot(ws, contoso, run=found, taken_at=old)

    assert retention.prune(actor=REAPER, now=now)["runs"] == 1

    assert _remaining("runs") == {last_sync.pk, scheduled.pk}
    # The history keeps its own dates; it no longer links the run.
    assert ItemChange.objects.filter(pk=change.pk, run=None, detected_at=old).exists()
    assert InventoryItem.objects.filter(pk=item.pk, last_seen_run=None).exists()
    assert ComplianceSnapshot.objects.filter(pk=snapshot.pk, run=None, taken_at=old).exists()
    page = client_for(alice).get(reverse("inventory:item_changes", args=["acme", item.pk]))
    assert page.status_code == 200
    assert "After" in page.content.decode()  # the change is still shown …
    assert f"run #{found.pk}" not in page.content.decode()  # … without its run


# -- bounded batches ----------------------------------------------------------------------------


def test_a_pass_removes_at_most_its_limit_oldest_first_and_the_next_goes_on(
    monkeypatch: Any, limits: dict[str, int], contoso: Any
) -> None:
    monkeypatch.setattr(retention, "BATCH", 3)
    now = timezone.now()
    by_age = {days: _notification(contoso, now - days * DAY) for days in range(21, 29)}

    with CaptureQueriesContext(connection) as queries:
        assert retention.prune(actor=REAPER, now=now, limit=5)["notifications"] == 5

    deletes = [q["sql"] for q in queries if q["sql"].startswith('DELETE FROM "notifications')]
    assert len(deletes) == 2  # 3 + 2 rows, each batch its own statement and transaction
    assert _remaining("notifications") == {by_age[days] for days in (21, 22, 23)}
    assert retention.prune(actor=REAPER, now=now, limit=5)["notifications"] == 3
    assert _remaining("notifications") == set()


def test_the_reaper_pass_prunes_a_bounded_batch_and_says_how_many(
    monkeypatch: Any, limits: dict[str, int], contoso: Any
) -> None:
    monkeypatch.setattr(retention, "PASS_LIMIT", 2)
    for days in (40, 41, 42):
        _run(contoso, timezone.now() - days * DAY)
    passes = []
    for _ in range(2):
        out = io.StringIO()
        call_command("reap", stdout=out)
        passes.append(dict(re.findall(r"(pruned_\w+)=(\d+)", out.getvalue())))

    assert passes == [
        {
            "pruned_runs": "2",
            "pruned_audit_events": "0",
            "pruned_notifications": "0",
            "pruned_tasks": "0",
            "pruned_sessions": "0",
        },
        {
            "pruned_runs": "1",
            "pruned_audit_events": "0",
            "pruned_notifications": "0",
            "pruned_tasks": "0",
            "pruned_sessions": "0",
        },
    ]
    assert OperationRun.objects.count() == 0
    assert [e.actor_label for e in AuditEvent.objects.filter(action="retention.pruned")] == [
        "system",
        "system",
    ]


# -- the audit log says what went ---------------------------------------------------------------


def test_each_workspace_that_lost_rows_gets_one_audit_event_with_its_counts(
    monkeypatch: Any, limits: dict[str, int], contoso: Any, initech: Any
) -> None:
    monkeypatch.setattr(retention, "BATCH", 2)  # the counts span batches
    now = timezone.now()
    for _ in range(3):
        _run(contoso, now - 31 * DAY)
        _audit_event(contoso, now - 61 * DAY)
    _notification(contoso, now - 21 * DAY)
    _notification(initech, now - 21 * DAY)
    _session(contoso, now - SECOND)  # no workspace: counted, in no workspace's entry
    quiet = Workspace.objects.create(name="Umbrella", slug="umbrella")
    record_event(workspace=quiet, actor=SYSTEM, action="test.happened")

    retention.prune(actor=REAPER, now=now)

    entries = AuditEvent.objects.filter(action="retention.pruned").select_related("workspace")
    assert sorted((e.workspace.slug, e.actor_label, e.metadata) for e in entries) == [
        (
            "acme",
            "system",
            {
                "removed": {"runs": 3, "audit_events": 3, "notifications": 1},
                "older_than_days": {"runs": 30, "audit_events": 60, "notifications": 20},
            },
        ),
        (
            "globex",
            "system",
            {"removed": {"notifications": 1}, "older_than_days": {"notifications": 20}},
        ),
    ]
    retention.prune(actor=REAPER, now=now)  # nothing left: no further entry
    assert AuditEvent.objects.filter(action="retention.pruned").count() == 2


def test_audit_events_stay_append_only_outside_retention(contoso: Any) -> None:
    event = record_event(workspace=contoso.workspace, actor=SYSTEM, action="test.happened")
    with pytest.raises(TypeError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(TypeError):
        event.delete()


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the PostgreSQL run covers this")
@pytest.mark.django_db(transaction=True)
def test_two_pruners_at_once_remove_and_audit_each_row_once(
    monkeypatch: Any, limits: dict[str, int], contoso: Any
) -> None:
    monkeypatch.setattr(retention, "BATCH", 25)
    now = timezone.now()
    user = contoso.workspace.memberships.first().user
    notes = Notification.objects.bulk_create(
        Notification(user=user, workspace=contoso.workspace, kind="run", title=str(i))
        for i in range(600)
    )
    Notification.objects.filter(pk__in=[n.pk for n in notes]).update(created_at=now - 30 * DAY)
    start = threading.Barrier(2)
    removed: list[int] = []

    def prune() -> None:
        try:
            start.wait(timeout=10)
            removed.append(retention.prune(actor=REAPER, now=now, limit=None)["notifications"])
        finally:
            connection.close()

    threads = [threading.Thread(target=prune) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    entries = AuditEvent.objects.filter(action="retention.pruned")
    assert len(removed) == 2
    assert sum(removed) == 600
    assert sum(e.metadata["removed"]["notifications"] for e in entries) == 600
    assert not Notification.objects.exists()


# -- Monitoring after pruning -------------------------------------------------------------------


def test_monitoring_costs_the_same_queries_after_pruning(
    limits: dict[str, int], alice: Any, contoso: Any, fabrikam: Any
) -> None:
    now = timezone.now()
    ws = contoso.workspace
    kept = make_run(ws, contoso, finished_at=now - DAY)
    for conn in (contoso, fabrikam):
        for days in (40, 50, 60):
            found = make_run(ws, conn, finished_at=now - days * DAY)
        make_change(make_item(ws, conn, last_seen_run=found), run=found)
    make_run(ws, fabrikam, status="running")
    client = client_for(alice)
    pages = [
        reverse("operations:runs", args=["acme"]),
        reverse("operations:run", args=["acme", kept.pk]),
        reverse("providers:detail", args=["acme", contoso.pk]),
        reverse("providers:detail", args=["acme", fabrikam.pk]),
    ]
    before = [page_queries(client, page) for page in pages]

    assert retention.prune(actor=REAPER, now=now)["runs"] == 6

    assert [page_queries(client, page) for page in pages] == before


# -- the command --------------------------------------------------------------------------------


def _one_of_each_past_its_limit(conn: Any, now: dt.datetime, limits: dict[str, int]) -> None:
    for kind in KINDS:
        MAKERS[kind](conn, now - limits[kind] * DAY - DAY)
        MAKERS[kind](conn, now - limits[kind] * DAY + DAY)
    item = make_item(conn.workspace, conn)
    make_change(item, detected_at=now - 400 * DAY)  # CHANGE_RETENTION_DAYS: 365
    make_change(item, detected_at=now - DAY)
    AlertEvent.objects.create(
        workspace=conn.workspace,
        kind=EventKind.RUN_FAILED,
        severity=Severity.WARNING,
        key="run:old",
        title="A run failed",
        occurred_at=now - 100 * DAY,  # ALERT_RETENTION_DAYS: 90
    )


def _printed(out: str) -> dict[str, int]:
    return {kind: int(n) for kind, n in re.findall(r"^  (\w+) +(\d+)  ", out, re.MULTILINE)}


def _all_rows() -> dict[str, int]:
    return {
        "runs": OperationRun.objects.count(),
        "audit_events": AuditEvent.objects.count(),
        "notifications": Notification.objects.count(),
        "tasks": DBTaskResult.objects.count(),
        "sessions": Session.objects.count(),
        "changes": ItemChange.objects.count(),
        "alerts": AlertEvent.objects.count(),
    }


def test_the_dry_run_prints_what_would_go_and_deletes_nothing(
    limits: dict[str, int], contoso: Any
) -> None:
    _one_of_each_past_its_limit(contoso, timezone.now(), limits)
    rows = _all_rows()
    out = io.StringIO()

    call_command("prune", "--dry-run", stdout=out)

    assert out.getvalue().startswith("Would prune (dry run, nothing was deleted):\n")
    assert _printed(out.getvalue()) == dict.fromkeys(rows, 1)
    assert "finished runs, older than 30 days (TENANTATLAS_RETENTION_RUNS_DAYS)" in out.getvalue()
    assert _all_rows() == rows
    assert not AuditEvent.objects.filter(action="retention.pruned").exists()


def test_the_command_deletes_everything_due_and_prints_the_counts(
    monkeypatch: Any, limits: dict[str, int], contoso: Any
) -> None:
    monkeypatch.setattr(retention, "BATCH", 2)
    monkeypatch.setattr(retention, "PASS_LIMIT", 2)  # the reaper's bound; the command has none
    now = timezone.now()
    _one_of_each_past_its_limit(contoso, now, limits)
    for _ in range(4):
        _notification(contoso, now - 30 * DAY)
    rows = _all_rows()
    out = io.StringIO()

    call_command("prune", stdout=out)

    removed = {kind: 1 for kind in rows} | {"notifications": 5}
    assert out.getvalue().startswith("Pruned:\n")
    assert _printed(out.getvalue()) == removed
    entry = AuditEvent.objects.get(action="retention.pruned")
    assert entry.metadata["removed"] == {"runs": 1, "audit_events": 1, "notifications": 5}
    assert _all_rows() == {
        kind: rows[kind] - removed[kind] + (kind == "audit_events") for kind in rows
    }


# -- through an index ---------------------------------------------------------------------------

INDEXES = {  # the index each kind reads, oldest first (Django names the implicit ones)
    "runs": "run_finished",
    "audit_events": "audit_auditevent_created_at_",
    "notifications": "notif_created",
    "tasks": "tasks_db_finished_retention",
    "sessions": "django_session_expire_date_",
}


@pytest.mark.parametrize("kind", retention.KINDS, ids=lambda kind: kind.name)
def test_each_kind_is_read_oldest_first_through_its_index(db: Any, kind: retention.Kind) -> None:
    query = kind.due(timezone.now())[: retention.BATCH]
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Tables this small are cheaper to scan and sort; what counts is that the index
            # serves both the condition and the order, as it does once the table is large.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL enable_seqscan = off")
                cursor.execute("SET LOCAL enable_sort = off")
        plan = query.explain()

    table = query.model._meta.db_table
    if connection.vendor == "postgresql":
        assert re.search(rf"Index Scan using {INDEXES[kind.name]}\S* on {table}", plan), plan
        assert "Sort" not in plan, plan
    else:
        assert f"SEARCH {table} USING INDEX {INDEXES[kind.name]}" in plan, plan
        assert "TEMP B-TREE" not in plan, plan
