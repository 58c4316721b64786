"""A run's lifecycle has one owner: the transitions of RunQuerySet, checked against one table.

Nothing else in the product writes a run's status; a move the table allows happens once, one it
does not allow changes nothing. A run queued before its connection was disabled never starts,
an operation no provider implements ends cleanly as not supported, and a run the database
dropped mid-way is left to the reaper.
"""

from __future__ import annotations

import ast
import dataclasses
import datetime as dt
import itertools
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.db.utils import OperationalError
from django.utils import timezone

from tenantatlas.audit.models import AuditEvent
from tenantatlas.notifications.models import Notification
from tenantatlas.operations import registry
from tenantatlas.operations.handlers import OutcomeStatus
from tenantatlas.operations.models import (
    TRANSITIONS,
    InvalidTransition,
    OperationRun,
    RunStatus,
)
from tenantatlas.operations.reaper import reap
from tenantatlas.operations.services import start_operation
from tenantatlas.operations.tests.factories import make_run
from tenantatlas.operations.worker import execute
from tenantatlas.providers.microsoft import inventory as microsoft_inventory
from tenantatlas.providers.services.connections import set_connection_status
from tenantatlas.testing import make_connection, make_sim_connection

Q, R, S, P, F, C = (
    RunStatus.QUEUED,
    RunStatus.RUNNING,
    RunStatus.SUCCEEDED,
    RunStatus.PARTIALLY_SUCCEEDED,
    RunStatus.FAILED,
    RunStatus.CANCELLED,
)
EXPECTED = {
    Q: {Q, R, C, F},  # redelivered, claimed, cancelled, failed (unsent, expired)
    R: {R, Q, S, P, F, C},  # beat/progress/stop request, rescheduled/handed back, finished
    S: set(),
    P: set(),
    F: set(),
    C: set(),
}
PAIRS = list(itertools.product(RunStatus.values, RunStatus.values))
CONTOSO = "5a1c0e4b-7f2d-4c8e-9b6a-3d2f1e0c9b8a"


def test_it_writes_the_transitions_down_once_for_every_status():
    assert {status: set(targets) for status, targets in TRANSITIONS.items()} == EXPECTED
    # A handler ends its run with statuses the run model knows.
    assert set(OutcomeStatus.__args__) <= set(RunStatus.values)


@pytest.mark.parametrize(("source", "target"), PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_it_moves_a_run_only_as_the_table_allows(acme, alice, contoso, source, target):
    run = make_run(acme, contoso, status=source)
    bystanders = [make_run(acme, contoso, status=other) for other in RunStatus.values]
    moves = OperationRun.objects.exclude(pk__in=[b.pk for b in bystanders]).filter(pk=run.pk)
    if target in EXPECTED[source]:
        assert moves.move(source, target) is True
        assert moves.move(source, target) is (source == target)  # once, unless it stays
    else:
        with pytest.raises(InvalidTransition):
            moves.move(source, target)
    run.refresh_from_db()
    assert run.status == (target if target in EXPECTED[source] else source)
    for bystander, status in zip(bystanders, RunStatus.values, strict=True):
        bystander.refresh_from_db()
        assert bystander.status == status


# -- nothing else writes a run's status ------------------------------------------------------------

PRODUCT = Path(settings.BASE_DIR) / "tenantatlas"
LIFECYCLE_OWNER = PRODUCT / "operations" / "models.py"
RUNLIKE = re.compile(r"(?i)(^|[^a-z])(operation)?runs?($|[^a-z])")
WRITES = {"update", "create", "get_or_create", "update_or_create", "bulk_create", "bulk_update"}


def _names_status(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value == "status"


def status_writes(source: str) -> list[int]:
    """Lines writing a run's status: `run.status = …`, `….update(status=…)` on a run query,
    `OperationRun(status=…)`, `bulk_update(…, ["status"])`, `save(update_fields=["status"])`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                is_status = isinstance(target, ast.Attribute) and target.attr == "status"
                if is_status and RUNLIKE.search(ast.unparse(target.value)):
                    found.append(node.lineno)
        if isinstance(node, ast.Call) and _writes_status(node):
            found.append(node.lineno)
    return found


def _writes_status(call: ast.Call) -> bool:
    func, keywords = call.func, {kw.arg for kw in call.keywords}
    listed = any(_names_status(n) for arg in call.args + call.keywords for n in ast.walk(arg))
    if isinstance(func, ast.Name):
        runlike_first = bool(call.args) and bool(RUNLIKE.search(ast.unparse(call.args[0])))
        return (func.id == "OperationRun" and "status" in keywords) or (
            func.id == "setattr" and runlike_first and listed
        )
    if not isinstance(func, ast.Attribute) or not RUNLIKE.search(ast.unparse(func.value)):
        return False
    if func.attr in WRITES:
        return "status" in keywords or (func.attr == "bulk_update" and listed)
    return func.attr == "save" and listed


def test_it_finds_every_kind_of_status_write():
    snippet = """
run.status = "failed"
self.run.status = RunStatus.FAILED
OperationRun.objects.filter(pk=1).update(status="failed")
connection.runs.update(status="failed")
OperationRun(workspace=ws, status="queued")
OperationRun.objects.bulk_update(runs, ["status"])
run.save(update_fields=["status", "finished_at"])
setattr(run, "status", "failed")
connection.status = "disabled"
ProviderConnection.objects.filter(pk=1).update(status="disabled")
RunOutcome(status=SUCCEEDED)
OperationRun.objects.filter(status="queued").claim(1)
"""
    assert status_writes(snippet) == [2, 3, 4, 5, 6, 7, 8, 9]


def test_it_writes_a_runs_status_only_in_its_lifecycle():
    offenders = []
    for path in sorted(PRODUCT.rglob("*.py")):
        parts = set(path.relative_to(PRODUCT).parts)
        if parts & {"tests", "migrations"} or path.name in {"conftest.py", "testing.py"}:
            continue
        if path == LIFECYCLE_OWNER:
            continue
        offenders += [f"{path}:{line}" for line in status_writes(path.read_text())]
    assert offenders == [], "ask RunQuerySet for a transition instead: " + ", ".join(offenders)


# -- the step right after the claim ------------------------------------------------------------


def test_it_fails_a_run_queued_before_its_connection_was_disabled(
    acme, alice, django_capture_on_commit_callbacks
):
    conn = make_connection(acme, alice)
    with django_capture_on_commit_callbacks(execute=False):
        run = start_operation(
            actor=alice, member=None, connection=conn, operation_type="inventory.sync"
        ).run
    set_connection_status(actor=alice, connection=conn, enabled=False)

    with django_capture_on_commit_callbacks(execute=True):
        assert execute(run.pk) == RunStatus.FAILED
    run.refresh_from_db()
    assert (run.status, run.reason_code) == (RunStatus.FAILED, "provider.connection_disabled")
    assert run.finished_at is not None
    # It never reached the tenant: no credential was opened.
    assert not AuditEvent.objects.filter(action="credential.decrypted").exists()
    assert Notification.objects.get(user=alice).kind == "run.failed"
    assert AuditEvent.objects.get(action="operation.finished").metadata["reason_code"] == (
        "provider.connection_disabled"
    )


def test_it_ends_an_operation_no_provider_implements_as_not_supported(
    acme, alice, monkeypatch, django_capture_on_commit_callbacks
):
    backup = dataclasses.replace(registry.OPERATIONS["inventory.sync"], interface="BackupExporter")
    monkeypatch.setitem(registry.OPERATIONS, "inventory.sync", backup)
    conn = make_connection(acme, alice)
    with django_capture_on_commit_callbacks(execute=False):
        run = start_operation(
            actor=alice, member=None, connection=conn, operation_type="inventory.sync"
        ).run

    with django_capture_on_commit_callbacks(execute=True):
        assert execute(run.pk) == RunStatus.FAILED
    run.refresh_from_db()
    assert (run.status, run.reason_code) == (RunStatus.FAILED, "operation.unsupported")
    assert (
        run.failure_message == "The microsoft provider does not support configuration backups yet."
    )


def test_it_leaves_a_run_the_database_dropped_to_the_reaper(
    sim, acme, alice, monkeypatch, django_capture_on_commit_callbacks
):
    """Nothing can be recorded while the database is gone: the worker lets the error through
    (its transport reconnects) and the stale heartbeat ends the run as run.worker_lost."""
    conn = make_sim_connection(acme, alice, CONTOSO, "contoso-demo-secret")
    with django_capture_on_commit_callbacks(execute=False):
        run = start_operation(
            actor=alice, member=None, connection=conn, operation_type="inventory.sync"
        ).run

    def database_gone(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(microsoft_inventory, "upsert_page", database_gone)
    with pytest.raises(OperationalError):
        execute(run.pk)
    run.refresh_from_db()
    assert (run.status, run.reason_code) == (RunStatus.RUNNING, "")

    later = timezone.now() + dt.timedelta(seconds=settings.RUN_STALE_AFTER_SECONDS + 1)
    with django_capture_on_commit_callbacks(execute=True):
        assert reap(now=later)["worker_lost"] == 1
    run.refresh_from_db()
    assert (run.status, run.reason_code) == (RunStatus.FAILED, "run.worker_lost")
