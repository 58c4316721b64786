"""Bulk starts: one operation on many connections, each through the start gate on its own."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext

from tenantatlas.audit.models import AuditEvent
from tenantatlas.operations import bulk
from tenantatlas.operations.bulk import start_on_connections
from tenantatlas.operations.models import OperationRun, RunStatus
from tenantatlas.operations.registry import UnknownOperation
from tenantatlas.operations.services import start_operation
from tenantatlas.providers.models import ProviderConnection
from tenantatlas.providers.services.connections import delete_connection, set_connection_status
from tenantatlas.testing import make_connection
from tenantatlas.workspaces.models import Membership

CHECK = "provider.health_check"


def _member(user: Any, workspace: Any) -> Membership:
    return Membership.objects.select_related("workspace").get(user=user, workspace=workspace)


def _fleet(workspace: Any, actor: Any, names: list[str]) -> dict[str, ProviderConnection]:
    return {
        name: make_connection(workspace, actor, name=name, entra_tenant_id=str(uuid.uuid4()))
        for name in names
    }


def _names(group: bulk.BulkGroup) -> list[str]:
    return [item.name for item in group.items]


def test_it_starts_on_every_free_connection_and_sorts_the_others_into_groups(
    acme: Any, alice: Any
) -> None:
    fleet = _fleet(acme, alice, ["Alpha", "Bravo", "Charlie", "Delta", "Echo"])
    already = start_operation(actor=alice, connection=fleet["Bravo"], operation_type=CHECK)
    other = start_operation(
        actor=alice, connection=fleet["Charlie"], operation_type="inventory.sync"
    )
    set_connection_status(actor=alice, connection=fleet["Delta"], enabled=False)
    delete_connection(actor=alice, connection=fleet["Echo"])

    summary = start_on_connections(actor=alice, member=_member(alice, acme), operation_type=CHECK)

    assert summary.counts() == {
        "total": 4,
        "started": 1,
        "deduplicated": 1,
        "busy": 1,
        "skipped": 1,
    }
    assert _names(summary.started) == ["Alpha"]
    assert _names(summary.deduplicated) == ["Bravo"]
    assert summary.deduplicated.items[0].run_id == already.run.pk
    assert _names(summary.busy) == ["Charlie"]
    assert summary.busy.items[0].run_id == other.run.pk
    assert summary.busy.items[0].reason == "Inventory sync is queued"
    assert _names(summary.skipped) == ["Delta"]
    assert summary.skipped.items[0].reason_text == "disabled"
    started = OperationRun.objects.get(connection=fleet["Alpha"])
    assert summary.started.items[0].run_id == started.pk
    assert (started.connection_id, started.operation_type, started.status, started.trigger) == (
        fleet["Alpha"].pk,
        CHECK,
        RunStatus.QUEUED,
        "ui",
    )
    assert summary.message == ("Connection check: 1 started, 1 already running, 1 busy, 1 skipped.")


def test_it_queues_each_connections_run_once_and_answers_already_running_the_second_time(
    acme: Any, alice: Any
) -> None:
    fleet = _fleet(acme, alice, ["Alpha", "Bravo", "Charlie"])
    member = _member(alice, acme)

    first = start_on_connections(actor=alice, member=member, operation_type="inventory.sync")
    second = start_on_connections(actor=alice, member=member, operation_type="inventory.sync")

    assert first.counts()["started"] == 3
    assert second.counts() == {
        "total": 3,
        "started": 0,
        "deduplicated": 3,
        "busy": 0,
        "skipped": 0,
    }
    assert {item.run_id for item in second.deduplicated.items} == {
        item.run_id for item in first.started.items
    }
    per_connection = {
        c.pk: OperationRun.objects.filter(connection=c).count() for c in fleet.values()
    }
    assert per_connection == {c.pk: 1 for c in fleet.values()}


def test_it_starts_only_on_the_connections_it_is_given_and_only_in_the_members_workspace(
    acme: Any, alice: Any, mallory: Any, globex: Any
) -> None:
    fleet = _fleet(acme, alice, ["Alpha", "Bravo", "Charlie"])
    foreign = make_connection(globex, mallory, name="Initech")
    chosen = ProviderConnection.objects.filter(
        pk__in=[fleet["Alpha"].pk, fleet["Charlie"].pk, foreign.pk]
    )

    summary = start_on_connections(
        actor=alice, member=_member(alice, acme), operation_type=CHECK, connections=chosen
    )

    assert sorted(_names(summary.started)) == ["Alpha", "Charlie"]
    assert not OperationRun.objects.filter(connection=foreign).exists()
    assert not OperationRun.objects.filter(connection=fleet["Bravo"]).exists()


def test_it_refuses_a_member_who_may_not_run_operations_before_starting_anything(
    acme: Any, alice: Any, vera: Any
) -> None:
    _fleet(acme, alice, ["Alpha", "Bravo"])
    before = AuditEvent.objects.count()

    with pytest.raises(PermissionDenied):
        start_on_connections(actor=vera, member=_member(vera, acme), operation_type=CHECK)

    assert not OperationRun.objects.exists()
    assert AuditEvent.objects.count() == before


def test_it_refuses_an_unknown_operation(acme: Any, alice: Any) -> None:
    _fleet(acme, alice, ["Alpha"])

    with pytest.raises(UnknownOperation):
        start_on_connections(actor=alice, member=_member(alice, acme), operation_type="nope")

    assert not OperationRun.objects.exists()


def test_it_audits_the_bulk_start_with_its_counts_besides_each_runs_own(
    acme: Any, alice: Any
) -> None:
    fleet = _fleet(acme, alice, ["Alpha", "Bravo", "Charlie"])
    set_connection_status(actor=alice, connection=fleet["Charlie"], enabled=False)
    before = AuditEvent.objects.order_by("-id").first()
    assert before is not None

    start_on_connections(
        actor=alice,
        member=_member(alice, acme),
        operation_type=CHECK,
        filters={"health": "unknown", "q": ""},
    )

    events = list(AuditEvent.objects.filter(id__gt=before.pk).order_by("id"))
    assert [e.action for e in events] == [
        "operation.started",
        "operation.started",
        "operation.bulk_started",
    ]
    entry = events[-1]
    assert entry.actor == alice
    assert entry.metadata == {
        "operation_type": CHECK,
        "trigger": "ui",
        "filters": {"health": "unknown"},
        "total": 3,
        "started": 2,
        "deduplicated": 0,
        "busy": 0,
        "skipped": 1,
        "skipped_reasons": {"connection_disabled": 1},
        "stopped": "",
    }


def test_it_lists_a_bounded_number_of_names_and_counts_them_all(
    acme: Any, alice: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "LISTED_PER_GROUP", 3)
    _fleet(acme, alice, [f"Tenant {i}" for i in range(5)])

    summary = start_on_connections(actor=alice, member=_member(alice, acme), operation_type=CHECK)

    assert summary.started.count == 5
    assert len(summary.started.items) == 3
    assert summary.started.more == 2


def _queries(member: Membership, actor: Any) -> int:
    with CaptureQueriesContext(db_connection) as captured:
        start_on_connections(actor=actor, member=member, operation_type=CHECK)
    return len(captured.captured_queries)


def test_it_costs_the_start_gates_queries_per_connection_and_nothing_more(
    acme: Any, alice: Any
) -> None:
    member = _member(alice, acme)
    single = make_connection(acme, alice, name="Single", entra_tenant_id=str(uuid.uuid4()))
    with CaptureQueriesContext(db_connection) as captured:
        start_operation(actor=alice, member=member, connection=single, operation_type=CHECK)
    per_start = len(captured.captured_queries)
    OperationRun.objects.update(status=RunStatus.CANCELLED)  # a free scope again

    _fleet(acme, alice, [f"Few {i}" for i in range(4)])  # 5 with Single
    few = _queries(member, alice)
    OperationRun.objects.update(status=RunStatus.CANCELLED)
    _fleet(acme, alice, [f"More {i}" for i in range(10)])  # 15
    many = _queries(member, alice)

    assert many - few == 10 * per_start
    assert few - 5 * per_start <= 4  # the one read of the connections and the bulk audit entry


@pytest.mark.django_db(transaction=True)
def test_each_start_commits_on_its_own_so_a_failure_keeps_the_earlier_ones(
    acme: Any, alice: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fleet(acme, alice, ["Alpha", "Bravo", "Charlie"])
    real_start = bulk.start_operation
    calls: list[str] = []

    def start_then_break(**kwargs: Any) -> Any:
        calls.append(kwargs["connection"].display_name)
        if len(calls) == 3:
            raise RuntimeError("the database went away")
        return real_start(**kwargs)

    monkeypatch.setattr(bulk, "start_operation", start_then_break)

    with pytest.raises(RuntimeError):
        start_on_connections(actor=alice, member=_member(alice, acme), operation_type=CHECK)

    names = OperationRun.objects.values_list("connection__display_name", flat=True)
    assert sorted(names) == ["Alpha", "Bravo"]
    entry = AuditEvent.objects.get(action="operation.bulk_started")
    assert (entry.metadata["started"], entry.metadata["total"]) == (2, 2)


@pytest.mark.django_db(transaction=True)
def test_it_stops_when_the_queue_refuses_a_run_and_skips_the_rest(
    acme: Any, alice: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every further start would create a run only to fail it: the bulk start stops."""
    from tenantatlas.operations import services

    _fleet(acme, alice, ["Alpha", "Bravo", "Charlie", "Delta"])
    sent: list[int] = []

    def enqueue(run_id: int) -> None:
        if len(sent) == 1:
            raise ConnectionError("Redis is down")
        sent.append(run_id)

    monkeypatch.setattr(services, "enqueue_run", enqueue)

    summary = start_on_connections(actor=alice, member=_member(alice, acme), operation_type=CHECK)

    assert summary.stopped == "queue.unavailable"
    assert _names(summary.started) == ["Alpha"]
    assert _names(summary.skipped) == ["Bravo", "Charlie", "Delta"]
    assert {item.reason for item in summary.skipped.items} == {"queue.unavailable"}
    failed = OperationRun.objects.get(connection__display_name="Bravo")
    assert (failed.status, failed.reason_code) == (RunStatus.FAILED, "queue.unavailable")
    assert summary.skipped.items[0].run_id == failed.pk
    assert OperationRun.objects.count() == 2  # none for Charlie and Delta
    assert AuditEvent.objects.get(action="operation.bulk_started").metadata["stopped"] == (
        "queue.unavailable"
    )
