"""Connections list rows follow their runs: the table polls while a run it shows is queued or
running, shows that run on its row, and stops polling once none is."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from tenantatlas.operations.models import OperationRun
from tenantatlas.operations.tests.factories import make_run, run_row
from tenantatlas.providers.models import ProviderConnection
from tenantatlas.testing import client_for, page_queries

POLL = 'hx-trigger="every 2s'


def _list_url() -> str:
    return reverse("providers:list", args=["acme"])


def _table(html: str) -> str:
    match = re.search(r'<div id="connections-table".*?>', html)
    assert match, "the table fragment is missing"
    return match.group(0)


def _row(html: str, connection: ProviderConnection) -> str:
    match = re.search(rf'<tr id="connection-{connection.pk}".*?</tr>', html, re.S)
    assert match, f"no row for {connection}"
    return match.group(0)


def test_it_does_not_poll_when_no_run_is_active(
    acme: Any, contoso: ProviderConnection, vera: Any
) -> None:
    make_run(acme, contoso, status="succeeded")
    html = client_for(vera).get(_list_url()).text
    assert POLL not in html
    assert 'data-active="false"' in _table(html)
    assert 'data-run="none"' in _row(html, contoso)
    assert "run_status:" not in _row(html, contoso)


def test_it_polls_and_shows_the_run_while_one_is_queued(
    acme: Any, contoso: ProviderConnection, fabrikam: ProviderConnection, vera: Any
) -> None:
    run = make_run(acme, contoso, status="queued", operation_type="provider.health_check")
    response = client_for(vera).get(_list_url())
    table = _table(response.text)
    assert POLL in table
    assert f'hx-get="{_list_url()}"' in table
    row = _row(response.text, contoso)
    assert 'data-badge="run_status:queued"' in row
    assert "Connection check" in row
    assert reverse("operations:run", args=["acme", run.pk]) in row
    assert "run_status:" not in _row(response.text, fabrikam)
    assert "HX-Request" in response["Vary"]


def test_it_shows_a_running_runs_progress(
    acme: Any, contoso: ProviderConnection, vera: Any
) -> None:
    run = make_run(acme, contoso, status="queued")
    assert OperationRun.objects.claim(run.pk, now=timezone.now())
    assert OperationRun.objects.progress(run.pk, done=3, total=10)
    row = _row(client_for(vera).get(_list_url()).text, contoso)
    assert 'data-badge="run_status:running"' in row
    assert '<progress value="3" max="10"' in row
    assert "3/10" in row


def test_a_poll_answers_the_fragment_and_stops_once_the_run_ended(
    acme: Any, contoso: ProviderConnection, vera: Any
) -> None:
    run = make_run(acme, contoso, status="queued")
    client = client_for(vera)
    url = _list_url() + "?health=unknown&sort=name"
    polled = client.get(url, HTTP_HX_REQUEST="true")
    assert polled.status_code == 200
    assert "<html" not in polled.text
    assert 'data-badge="run_status:queued"' in _row(polled.text, contoso)
    assert POLL in _table(polled.text)
    assert 'hx-get="' + url.replace("&", "&amp;") + '"' in _table(polled.text)

    assert OperationRun.objects.claim(run.pk, now=timezone.now())
    assert OperationRun.objects.finish(run.pk, status="succeeded", summary_counts={}, context={})
    ended = client.get(url, HTTP_HX_REQUEST="true")
    assert ended.status_code == 286  # htmx stops polling, and swaps in this last fragment
    assert POLL not in ended.text
    assert 'data-active="false"' in _table(ended.text)
    assert "run_status:" not in _row(ended.text, contoso)
    assert "HX-Request" in ended["Vary"]


def test_it_only_shows_runs_of_the_connections_on_the_page(
    acme: Any, contoso: ProviderConnection, fabrikam: ProviderConnection, vera: Any
) -> None:
    make_run(acme, fabrikam, status="queued")
    html = client_for(vera).get(_list_url(), {"q": "Contoso"}).text
    assert POLL not in html
    assert f'id="connection-{fabrikam.pk}"' not in html


def test_a_start_from_the_menu_tells_the_page_to_refresh(
    acme: Any, contoso: ProviderConnection, bob: Any
) -> None:
    url = reverse("providers:start", args=["acme", contoso.pk, "provider.health_check"])
    response = client_for(bob).post(url, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "connection-runs-changed" in json.loads(response["HX-Trigger"])
    html = client_for(bob).get(_list_url()).text
    assert 'data-badge="run_status:queued"' in _row(html, contoso)
    assert 'hx-trigger="every 2s, connection-runs-changed from:body"' in html


def _bulk_with_active_runs(workspace: Any, count: int) -> None:
    connections = ProviderConnection.objects.bulk_create(
        [
            ProviderConnection(
                workspace=workspace, display_name=f"Busy {i:04d}", entra_tenant_id=uuid.uuid4()
            )
            for i in range(count)
        ]
    )
    OperationRun.objects.bulk_create(
        [run_row(workspace, c, status="queued", scope_key=f"test:{c.pk}") for c in connections]
    )


@pytest.mark.parametrize("hx", [False, True])
def test_its_query_count_does_not_grow_with_active_runs(acme: Any, vera: Any, hx: bool) -> None:
    client = client_for(vera)
    if hx:
        client.defaults["HTTP_HX_REQUEST"] = "true"
    _bulk_with_active_runs(acme, 10)
    few = page_queries(client, _list_url())
    _bulk_with_active_runs(acme, 990)
    many = page_queries(client, _list_url())
    assert few == many
    assert client.get(_list_url()).text.count('data-badge="run_status:queued"') == 50
