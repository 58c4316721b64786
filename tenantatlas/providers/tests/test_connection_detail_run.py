"""The connection page shows its current run (queued or running) with its progress and follows
it by polling until it ends."""

from __future__ import annotations

import re
from typing import Any

from django.urls import reverse
from django.utils import timezone

from tenantatlas.operations.models import OperationRun
from tenantatlas.operations.tests.factories import make_run
from tenantatlas.providers.models import ProviderConnection
from tenantatlas.testing import client_for

POLL = 'hx-trigger="every 2s'


def _detail(connection: ProviderConnection) -> str:
    return reverse("providers:detail", args=["acme", connection.pk])


def _current(html: str) -> str:
    match = re.search(r'<article id="current-run".*?</article>', html, re.S)
    assert match, "the current-run fragment is missing"
    return match.group(0)


def test_it_shows_no_current_run_and_does_not_poll(
    acme: Any, contoso: ProviderConnection, vera: Any
) -> None:
    make_run(acme, contoso, status="failed")
    html = client_for(vera).get(_detail(contoso)).text
    current = _current(html)
    assert "None queued or running" in current
    assert POLL not in html
    assert 'data-active="false"' in current


def test_it_shows_the_queued_run_and_polls(
    acme: Any, contoso: ProviderConnection, vera: Any
) -> None:
    run = make_run(acme, contoso, status="queued", operation_type="inventory.sync")
    response = client_for(vera).get(_detail(contoso))
    current = _current(response.text)
    assert 'data-badge="run_status:queued"' in current
    assert "Inventory sync" in current
    assert reverse("operations:run", args=["acme", run.pk]) in current
    assert POLL in current
    assert f'hx-get="{_detail(contoso)}"' in current
    assert "HX-Request" in response["Vary"]


def test_it_shows_the_running_runs_progress(
    acme: Any, contoso: ProviderConnection, vera: Any
) -> None:
    run = make_run(acme, contoso, status="queued")
    assert OperationRun.objects.claim(run.pk, now=timezone.now())
    assert OperationRun.objects.progress(run.pk, done=120, total=500)
    current = _current(client_for(vera).get(_detail(contoso)).text)
    assert 'data-badge="run_status:running"' in current
    assert '<progress value="120" max="500"' in current
    assert "Started" in current


def test_a_poll_answers_the_fragment_until_the_run_ends(
    acme: Any, contoso: ProviderConnection, vera: Any
) -> None:
    run = make_run(acme, contoso, status="queued")
    client = client_for(vera)
    polled = client.get(_detail(contoso), HTTP_HX_REQUEST="true")
    assert polled.status_code == 200
    assert polled.text.strip().startswith('<article id="current-run"')
    assert "Recent runs" not in polled.text
    assert POLL in polled.text

    assert OperationRun.objects.claim(run.pk, now=timezone.now())
    assert OperationRun.objects.finish(run.pk, status="succeeded", summary_counts={}, context={})
    ended = client.get(_detail(contoso), HTTP_HX_REQUEST="true")
    assert ended.status_code == 286
    assert POLL not in ended.text
    assert "None queued or running" in ended.text
    assert 'data-badge="run_status:succeeded"' in ended.text  # how the last run ended
    assert "HX-Request" in ended["Vary"]


def test_it_does_not_show_another_connections_run(
    acme: Any, contoso: ProviderConnection, fabrikam: ProviderConnection, vera: Any
) -> None:
    make_run(acme, fabrikam, status="queued")
    html = client_for(vera).get(_detail(contoso)).text
    assert "None queued or running" in _current(html)
    assert POLL not in html
