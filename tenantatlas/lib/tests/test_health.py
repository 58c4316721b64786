"""/healthz (liveness) and /readyz (database, and Redis with the RQ transport; the reports
of apps above lib: the workers and the queue, tested in observability/tests)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import OperationalError, connections
from django.test import Client

from tenantatlas.lib import health_views
from tenantatlas.lib.tests.local_servers import redis_url

CANARY = "pw-canary-3f9a1c"


def test_it_answers_liveness_without_touching_the_database(
    client: Client, db: Any, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(0):
        response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_it_is_ready_when_the_database_answers(client: Client, db: Any, settings: Any) -> None:
    settings.TASK_TRANSPORT = "database"

    response = client.get("/readyz")

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["checks"]) == ("ok", {"database": "ok"})


def test_it_names_the_database_when_it_is_unreachable(
    client: Client, db: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.TASK_TRANSPORT = "database"

    def broken_cursor(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError(f'connection to server failed: password "{CANARY}" rejected')

    with monkeypatch.context() as patch:
        patch.setattr(connections["default"], "cursor", broken_cursor)
        response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "failing": ["database"],
        "checks": {"database": "failed: OperationalError"},
    }
    assert CANARY not in response.content.decode()


def test_it_pings_redis_with_the_rq_transport(client: Client, db: Any, settings: Any) -> None:
    settings.TASK_TRANSPORT = "rq"
    settings.REDIS_URL = redis_url(15)

    response = client.get("/readyz")

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["checks"]) == ("ok", {"database": "ok", "redis": "ok"})


def test_it_names_redis_when_it_is_unreachable_without_leaking_its_url(
    client: Client, db: Any, settings: Any
) -> None:
    settings.TASK_TRANSPORT = "rq"
    settings.REDIS_URL = f"redis://:{CANARY}@127.0.0.1:1/0"  # nothing listens on port 1

    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["redis"]
    assert body["checks"] == {"database": "ok", "redis": "failed: ConnectionError"}
    assert CANARY not in response.content.decode()
    assert "127.0.0.1" not in response.content.decode()


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_it_refuses_writes(client: Client, db: Any, path: str) -> None:
    assert client.post(path).status_code == 405


def test_a_report_adds_to_the_answer_but_never_fails_it_or_overrides_a_check(
    client: Client, db: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.TASK_TRANSPORT = "database"

    def broken() -> dict[str, Any]:
        raise RuntimeError(CANARY)

    def sneaky() -> dict[str, Any]:
        return {"status": "overridden", "checks": {}, "extra": {"answer": 42}}

    monkeypatch.setattr(health_views, "_reports", [broken, sneaky])
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok"},
        "extra": {"answer": 42},
    }
    assert CANARY not in response.content.decode()
