"""POST /runs/bulk: one operation on every connection (or the filter's), answered with a summary."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tenantatlas.api.tests.conftest import ApiClient, token_for
from tenantatlas.audit.models import AuditEvent
from tenantatlas.operations.models import OperationRun, RunStatus
from tenantatlas.providers.models import ProviderConnection
from tenantatlas.providers.services.connections import set_connection_status
from tenantatlas.testing import make_connection
from tenantatlas.workspaces.capabilities import PROVIDER_VIEW

CHECK = "provider.health_check"


def _fleet(acme: Any, alice: Any, *names: str) -> dict[str, ProviderConnection]:
    return {
        name: make_connection(acme, alice, name=name, entra_tenant_id=str(uuid.uuid4()))
        for name in names
    }


def _names(group: dict[str, Any]) -> list[str]:
    return [c["connection_name"] for c in group["connections"]]


def test_it_answers_202_with_the_summary_of_every_group(alice: Any, acme: Any) -> None:
    fleet = _fleet(acme, alice, "Alpha", "Bravo", "Charlie", "Delta")
    client = ApiClient(token_for(alice))
    sync = client.call(
        "POST", "/runs", {"connection_id": fleet["Charlie"].pk, "operation_type": "inventory.sync"}
    )
    set_connection_status(actor=alice, connection=fleet["Delta"], enabled=False)

    first = client.call("POST", "/runs/bulk", {"operation_type": CHECK})
    second = client.call("POST", "/runs/bulk", {"operation_type": CHECK})

    assert first.status_code == 202
    body = first.json()
    assert (body["operation_type"], body["total"]) == (CHECK, 4)
    assert sorted(_names(body["started"])) == ["Alpha", "Bravo"]
    assert body["started"]["count"] == 2
    assert body["started"]["more"] == 0
    assert body["busy"]["connections"] == [
        {
            "connection_id": fleet["Charlie"].pk,
            "connection_name": "Charlie",
            "run_id": sync.json()["id"],
            "reason": "Inventory sync is queued",
        }
    ]
    assert body["skipped"]["connections"] == [
        {
            "connection_id": fleet["Delta"].pk,
            "connection_name": "Delta",
            "run_id": None,
            "reason": "connection_disabled",
        }
    ]
    assert body["deduplicated"] == {"count": 0, "connections": [], "more": 0}
    assert second.status_code == 202
    again = second.json()
    assert sorted(_names(again["deduplicated"])) == ["Alpha", "Bravo"]
    assert again["started"]["count"] == 0
    started_ids = sorted(c["run_id"] for c in body["started"]["connections"])
    assert sorted(c["run_id"] for c in again["deduplicated"]["connections"]) == started_ids
    checks = OperationRun.objects.filter(operation_type=CHECK)
    assert sorted(checks.values_list("connection__display_name", flat=True)) == ["Alpha", "Bravo"]
    assert set(checks.values_list("trigger", flat=True)) == {"api"}


def test_it_starts_only_on_the_connections_the_filter_picks(alice: Any, acme: Any) -> None:
    fleet = _fleet(acme, alice, "Alpha", "Bravo", "Charlie")
    ProviderConnection.objects.filter(pk__in=[fleet["Alpha"].pk, fleet["Charlie"].pk]).update(
        health="unhealthy"
    )
    client = ApiClient(token_for(alice))

    response = client.call(
        "POST", "/runs/bulk", {"operation_type": CHECK, "filter": {"health": "unhealthy"}}
    )

    assert response.status_code == 202
    assert sorted(_names(response.json()["started"])) == ["Alpha", "Charlie"]
    assert not OperationRun.objects.filter(connection=fleet["Bravo"]).exists()
    entry = AuditEvent.objects.get(action="operation.bulk_started")
    assert entry.via == "api"
    assert entry.metadata["filters"] == {"health": "unhealthy"}
    assert entry.metadata["trigger"] == "api"
    assert "api_token_id" in entry.metadata


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"operation_type": "backup"}, "operation_type"),
        ({}, "operation_type"),
        ({"operation_type": CHECK, "filter": {"health": "sick"}}, "filter.health"),
        ({"operation_type": CHECK, "filter": {"expiry": "90"}}, "filter.expiry"),
        ({"operation_type": CHECK, "filter": {"q": "x" * 101}}, "filter.q"),
    ],
)
def test_it_answers_400_in_the_envelope_for_invalid_input(
    alice: Any, acme: Any, body: dict[str, Any], field: str
) -> None:
    _fleet(acme, alice, "Alpha")

    response = ApiClient(token_for(alice)).call("POST", "/runs/bulk", body)

    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("invalid", field)
    assert not OperationRun.objects.exists()


def test_it_answers_403_to_a_reader_and_to_a_token_without_provider_run(
    alice: Any, vera: Any, acme: Any
) -> None:
    _fleet(acme, alice, "Alpha")
    reader = ApiClient(token_for(vera))
    narrowed = ApiClient(token_for(alice, capabilities=[PROVIDER_VIEW]))

    for client in (reader, narrowed):
        response = client.call("POST", "/runs/bulk", {"operation_type": CHECK})
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "forbidden"
    assert not OperationRun.objects.exists()
    assert not AuditEvent.objects.filter(action="operation.bulk_started").exists()


def test_it_never_reaches_another_workspaces_connections(
    alice: Any, acme: Any, mallory: Any, globex: Any
) -> None:
    _fleet(acme, alice, "Alpha")
    make_connection(globex, mallory, name="Initech")

    response = ApiClient(token_for(mallory)).call("POST", "/runs/bulk", {"operation_type": CHECK})

    assert response.status_code == 202
    assert _names(response.json()["started"]) == ["Initech"]
    assert not OperationRun.objects.filter(workspace=acme).exists()


def test_it_answers_405_in_the_envelope_for_get(alice: Any, acme: Any) -> None:
    response = ApiClient(token_for(alice)).call("GET", "/runs/bulk")

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert response["Allow"] == "POST"


@pytest.mark.django_db(transaction=True)
def test_it_answers_503_with_the_summary_when_the_queue_refuses_a_run(
    alice: Any, acme: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tenantatlas.operations import services

    _fleet(acme, alice, "Alpha", "Bravo", "Charlie")

    def refuse(run_id: int) -> None:
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(services, "enqueue_run", refuse)

    response = ApiClient(token_for(alice)).call("POST", "/runs/bulk", {"operation_type": CHECK})

    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "queue.unavailable"
    assert error["summary"]["skipped"]["count"] == 3
    assert {c["reason"] for c in error["summary"]["skipped"]["connections"]} == {
        "queue.unavailable"
    }
    failed = OperationRun.objects.get()  # only the first: the rest were not tried
    assert (failed.status, failed.reason_code) == (RunStatus.FAILED, "queue.unavailable")
    assert not OperationRun.objects.active().exists()
