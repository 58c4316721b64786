"""/readyz tells whether workers take runs and how the queue stands, and stays ready whatever
the workers do (a web process serves pages without them); a database outage is still 503."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import OperationalError, connections
from django.test import Client
from django.utils import timezone

from tenantatlas.operations.tests.factories import make_run


def ago(seconds: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(seconds=seconds)


def ready(client: Client) -> dict[str, Any]:
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["checks"]) == ("ok", {"database": "ok"})
    return body


@pytest.fixture(autouse=True)
def database_transport(settings: Any) -> None:
    settings.TASK_TRANSPORT = "database"
    settings.RUN_STALE_AFTER_SECONDS = 30


def test_nothing_to_do_is_idle(client: Client, db: Any) -> None:
    body = ready(client)

    assert body["workers"] == {
        "status": "idle",
        "running": 0,
        "newest_heartbeat_age_seconds": None,
    }
    assert body["queue"] == {"queued": 0, "due": 0, "oldest_due_wait_seconds": None}


def test_a_fresh_heartbeat_means_workers_are_alive(client: Client, acme: Any, contoso: Any) -> None:
    make_run(acme, contoso, status="running", started_at=ago(300), heartbeat_at=ago(4))
    make_run(acme, contoso, status="running", started_at=ago(300), heartbeat_at=ago(200))
    make_run(acme, contoso, status="queued", created_at=ago(90))
    make_run(acme, contoso, status="queued", created_at=ago(90), not_before=ago(-60))

    body = ready(client)

    assert body["workers"]["status"] == "ok"
    assert body["workers"]["running"] == 2
    assert 4 <= body["workers"]["newest_heartbeat_age_seconds"] < 30
    assert (body["queue"]["queued"], body["queue"]["due"]) == (2, 1)
    assert 90 <= body["queue"]["oldest_due_wait_seconds"] < 120


def test_a_due_run_nobody_takes_means_workers_are_stalled(
    client: Client, acme: Any, contoso: Any
) -> None:
    make_run(acme, contoso, status="queued", created_at=ago(45))

    assert ready(client)["workers"]["status"] == "stalled"


def test_a_just_queued_run_is_no_sign_of_trouble_yet(
    client: Client, acme: Any, contoso: Any
) -> None:
    make_run(acme, contoso, status="queued", created_at=ago(3))
    make_run(acme, contoso, status="queued", created_at=ago(600), not_before=ago(-600))

    assert ready(client)["workers"]["status"] == "idle"


def test_running_runs_whose_heartbeats_all_stopped_mean_stalled(
    client: Client, acme: Any, contoso: Any
) -> None:
    make_run(acme, contoso, status="running", started_at=ago(300), heartbeat_at=ago(45))

    body = ready(client)

    assert body["workers"]["status"] == "stalled"
    assert 45 <= body["workers"]["newest_heartbeat_age_seconds"] < 75


def test_a_database_outage_is_still_503_and_says_nothing_else(
    client: Client, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_cursor(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("connection refused")

    with monkeypatch.context() as patch:
        patch.setattr(connections["default"], "cursor", broken_cursor)
        response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "failing": ["database"],
        "checks": {"database": "failed: OperationalError"},
    }
