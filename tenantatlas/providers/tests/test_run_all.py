"""Run on all shown (Connections list): the confirmation names the count, the start answers with
the summary, the filter decides which connections, and nobody outside provider.run gets there."""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.urls import reverse

from tenantatlas.audit.models import AuditEvent
from tenantatlas.operations.models import OperationRun
from tenantatlas.operations.services import start_operation
from tenantatlas.providers.models import ProviderConnection
from tenantatlas.providers.services.connections import set_connection_status
from tenantatlas.testing import client_for, make_connection

CHECK = "provider.health_check"
HTMX = {"HX-Request": "true"}


def _url(operation_type: str = CHECK, query: str = "") -> str:
    url = reverse("providers:run_all", kwargs={"slug": "acme", "operation_type": operation_type})
    return f"{url}?{query}" if query else url


def _fleet(acme: Any, alice: Any, count: int = 4) -> list[ProviderConnection]:
    fleet = [
        make_connection(acme, alice, name=f"Tenant {i}", entra_tenant_id=str(uuid.uuid4()))
        for i in range(count)
    ]
    unhealthy = [c.pk for c in fleet[: count // 2]]
    ProviderConnection.objects.filter(pk__in=unhealthy).update(health="unhealthy")
    return fleet


def test_the_list_offers_it_to_people_who_may_run_operations(
    alice: Any, bob: Any, vera: Any, acme: Any
) -> None:
    _fleet(acme, alice)
    list_url = reverse("providers:list", kwargs={"slug": "acme"})

    operator = client_for(bob).get(list_url + "?health=unhealthy").text
    reader = client_for(vera).get(list_url).text
    not_understood = client_for(bob).get(list_url + "?health=sick").text

    assert "Run on all shown…" in operator
    assert f'href="{_url(CHECK, "health=unhealthy")}"' in operator
    assert "2 connections shown" in operator
    assert "Run on all shown…" not in reader
    assert "Run on all shown…" not in not_understood  # it would widen to every connection


def test_the_confirmation_names_the_count_and_the_filter(alice: Any, acme: Any) -> None:
    fleet = _fleet(acme, alice)
    set_connection_status(actor=alice, connection=fleet[1], enabled=False)

    response = client_for(alice).get(_url(CHECK, "health=unhealthy&sort=name&page=3"), headers=HTMX)

    assert response.status_code == 200
    assert 'data-run-all="confirm"' in response.text
    assert "<html" not in response.text  # the panel only
    assert "Run connection check on the 2 connections this filter shows (Health: Unhealthy)?" in (
        response.text
    )
    assert "Start on 1 connection<" in response.text
    assert "The disabled one (1) is skipped." in response.text
    assert '<input type="hidden" name="health" value="unhealthy">' in response.text
    assert 'name="page"' not in response.text
    assert not OperationRun.objects.exists()


def test_the_start_answers_with_the_summary_and_refreshes_the_list(alice: Any, acme: Any) -> None:
    fleet = _fleet(acme, alice)
    busy = start_operation(actor=alice, connection=fleet[1], operation_type="inventory.sync")
    client = client_for(alice)

    response = client.post(_url(), {"health": "unhealthy"}, headers=HTMX)
    again = client.post(_url(), {"health": "unhealthy"}, headers=HTMX)

    assert response.status_code == 200
    assert json.loads(response["HX-Trigger"]) == {"connection-runs-changed": {}}
    text = response.text
    assert 'data-run-all="summary"' in text
    assert "Connection check on the 2 connections this filter shows (Health: Unhealthy)" in text
    assert "Tenant 0</a>" in text
    assert "Tenant 1</a> — Inventory sync is queued" in text
    assert f"run #{busy.run.pk}" in text
    assert "Connection check: 1 started, 1 busy." in text  # the toast
    assert 'hx-swap-oob="beforeend:#toasts"' in text
    assert "Connection check: 0 started, 1 already running, 1 busy." in again.text
    runs = OperationRun.objects.filter(operation_type=CHECK)
    assert list(runs.values_list("connection_id", flat=True)) == [fleet[0].pk]
    assert AuditEvent.objects.filter(action="operation.bulk_started").count() == 2


def test_without_script_it_asks_on_a_page_and_shows_the_summary_on_one(
    alice: Any, acme: Any
) -> None:
    _fleet(acme, alice, count=3)
    client = client_for(alice)

    confirm = client.get(_url("inventory.sync"))
    summary = client.post(_url("inventory.sync"))

    assert confirm.status_code == 200
    assert "<h1>Inventory sync on all shown connections</h1>" in confirm.text
    assert "Run inventory sync on all 3 connections of the workspace?" in confirm.text
    assert summary.status_code == 200
    assert "<html" in summary.text
    assert 'data-group="started"' in summary.text
    assert "hx-swap-oob" not in summary.text
    assert OperationRun.objects.filter(operation_type="inventory.sync").count() == 3


def test_it_refuses_a_filter_it_does_not_understand_and_starts_nothing(
    alice: Any, acme: Any
) -> None:
    _fleet(acme, alice)
    client = client_for(alice)

    page = client.post(_url(), {"health": "sick"})
    panel = client.post(_url(), {"health": "sick"}, headers=HTMX)
    asked = client.get(_url(CHECK, "expiry=90"))

    assert page.status_code == 400
    assert panel.status_code == 200  # htmx swaps no 4xx answer: the panel says it
    assert "nothing was started" in panel.text
    assert asked.status_code == 400
    assert not OperationRun.objects.exists()
    assert not AuditEvent.objects.filter(action="operation.bulk_started").exists()


def test_it_answers_404_for_an_unknown_operation(alice: Any, acme: Any) -> None:
    _fleet(acme, alice)

    assert client_for(alice).post(_url("backup")).status_code == 404
    assert not OperationRun.objects.exists()


def test_a_reader_gets_403_and_an_outsider_404(
    alice: Any, vera: Any, mallory: Any, acme: Any
) -> None:
    _fleet(acme, alice)

    assert client_for(vera).post(_url()).status_code == 403
    assert client_for(mallory).post(_url()).status_code == 404
    assert client_for(mallory).get(_url()).status_code == 404
    assert not OperationRun.objects.exists()


def test_the_confirmation_says_when_there_is_nothing_to_start(alice: Any, acme: Any) -> None:
    fleet = _fleet(acme, alice, count=2)
    for connection in reversed(fleet):  # the default last, when no other is enabled
        set_connection_status(actor=alice, connection=connection, enabled=False)

    response = client_for(alice).get(_url(CHECK, "status=disabled"), headers=HTMX)

    assert "None of them is enabled: there is nothing to start." in response.text
    assert "data-run-all-start" not in response.text
