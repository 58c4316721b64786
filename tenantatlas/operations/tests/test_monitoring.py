"""Monitoring list and run detail: isolation, polling, filters, keyset pages, query counts."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from tenantatlas.operations.models import OperationRun
from tenantatlas.operations.tests.factories import make_run, make_runs
from tenantatlas.operations.views import RUNS_PER_PAGE
from tenantatlas.testing import client_for, page_queries

HTMX = {"HTTP_HX_REQUEST": "true"}


def runs_url(slug: str = "acme") -> str:
    return reverse("operations:runs", args=[slug])


def run_url(run: OperationRun, slug: str = "acme") -> str:
    return reverse("operations:run", args=[slug, run.pk])


def shown_ids(response: Any) -> list[int]:
    return [run.pk for run in response.context["page"].items]


@pytest.mark.parametrize("who", ["alice", "maggie", "bob", "vera"])
def test_it_shows_every_member_the_workspace_runs_newest_first(
    cast: Any, contoso: Any, initech: Any, who: str
) -> None:
    older = make_run(contoso.workspace, contoso, created_at=timezone.now() - dt.timedelta(hours=1))
    newer = make_run(contoso.workspace, contoso, operation_type="compliance.snapshot")
    theirs = make_run(initech.workspace, initech)

    response = client_for(cast[who]).get(runs_url())

    assert response.status_code == 200
    assert shown_ids(response) == [newer.pk, older.pk]
    assert f'id="run-{theirs.pk}"' not in response.content.decode()
    assert "Compliance snapshot" in response.content.decode()
    assert "Inventory sync" in response.content.decode()


def test_it_never_shows_other_workspaces_runs(cast: Any, contoso: Any, initech: Any) -> None:
    mine = make_run(contoso.workspace, contoso)
    theirs = make_run(initech.workspace, initech)

    assert client_for(cast["alice"]).get(run_url(theirs)).status_code == 404
    assert client_for(cast["alice"]).get(run_url(theirs, "globex")).status_code == 404
    assert client_for(cast["mallory"]).get(run_url(mine)).status_code == 404
    assert client_for(cast["mallory"]).get(runs_url("acme")).status_code == 404
    assert shown_ids(client_for(cast["mallory"]).get(runs_url("globex"))) == [theirs.pk]


def test_it_sends_anonymous_visitors_to_sign_in(contoso: Any) -> None:
    run = make_run(contoso.workspace, contoso)
    for url in (runs_url(), run_url(run)):
        response = client_for(None).get(url)
        assert response.status_code == 302
        assert "/accounts/" in response["Location"]


def test_it_polls_while_a_visible_run_is_active(alice: Any, contoso: Any) -> None:
    make_run(contoso.workspace, contoso)
    make_run(contoso.workspace, contoso, status="running", progress_done=3, progress_total=10)

    response = client_for(alice).get(runs_url() + "?status=running", **HTMX)

    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="runs-table"')
    assert 'hx-trigger="every 2s"' in body
    assert 'hx-get="/w/acme/runs/?status=running"' in body
    assert '<progress value="3" max="10"' in body
    assert "<html" not in body


def test_it_stops_polling_with_286_when_nothing_visible_is_active(alice: Any, contoso: Any) -> None:
    make_run(contoso.workspace, contoso, status="running")
    finished = make_run(contoso.workspace, contoso, status="failed", reason_code="graph.throttled")

    response = client_for(alice).get(runs_url() + "?status=failed", **HTMX)

    assert response.status_code == 286
    body = response.content.decode()
    assert f'id="run-{finished.pk}"' in body
    assert "every 2s" not in body
    assert "graph.throttled" in body


def test_it_renders_the_full_page_without_htmx_and_polls_from_it(alice: Any, contoso: Any) -> None:
    make_run(contoso.workspace, contoso, status="queued")

    response = client_for(alice).get(runs_url())

    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" in body
    assert 'hx-trigger="every 2s"' in body
    assert "<progress title" in body  # indeterminate: total unknown
    assert response["Vary"].find("HX-Request") >= 0


def test_it_filters_by_status_operation_and_connection(
    alice: Any, contoso: Any, fabrikam: Any
) -> None:
    sync = make_run(contoso.workspace, contoso, operation_type="inventory.sync")
    check = make_run(
        contoso.workspace, contoso, operation_type="provider.health_check", status="failed"
    )
    other = make_run(
        fabrikam.workspace, fabrikam, operation_type="inventory.sync", status="cancelled"
    )
    client = client_for(alice)

    assert shown_ids(client.get(runs_url(), {"status": "failed"})) == [check.pk]
    assert set(shown_ids(client.get(runs_url(), {"operation_type": "inventory.sync"}))) == {
        sync.pk,
        other.pk,
    }
    assert shown_ids(client.get(runs_url(), {"connection": fabrikam.pk})) == [other.pk]
    assert shown_ids(
        client.get(runs_url(), {"connection": contoso.pk, "operation_type": "inventory.sync"})
    ) == [sync.pk]


def test_it_ignores_a_connection_filter_from_another_workspace(
    alice: Any, contoso: Any, initech: Any
) -> None:
    mine = make_run(contoso.workspace, contoso)
    make_run(initech.workspace, initech)

    response = client_for(alice).get(runs_url(), {"connection": initech.pk})

    assert shown_ids(response) == [mine.pk]
    assert "Some filters were ignored" in response.content.decode()


def _walk(client: Any, url: str, link: str) -> list[list[int]]:
    pages = []
    while url:
        response = client.get(url)
        assert response.status_code == 200
        pages.append(shown_ids(response))
        next_url = getattr(response.context["page"], link)
        url = runs_url() + next_url if next_url else ""
    return pages


def test_it_walks_keyset_pages_without_duplicates_or_misses(alice: Any, contoso: Any) -> None:
    runs = make_runs(contoso.workspace, contoso, 120, ties=7)
    expected = [r.pk for r in sorted(runs, key=lambda r: (r.created_at, r.pk), reverse=True)]
    client = client_for(alice)

    pages = _walk(client, runs_url(), "next_url")

    assert [len(p) for p in pages] == [RUNS_PER_PAGE, RUNS_PER_PAGE, 20]
    assert [pk for page in pages for pk in page] == expected

    # And back again with "← Newer" from the last page.
    last = client.get(
        runs_url()
        + client.get(runs_url() + client.get(runs_url()).context["page"].next_url)
        .context["page"]
        .next_url
    )
    assert shown_ids(last) == pages[2]
    backwards = _walk(client, runs_url() + last.context["page"].previous_url, "previous_url")
    assert backwards == [pages[1], pages[0]]


def test_it_keeps_filters_in_page_links(alice: Any, contoso: Any) -> None:
    make_runs(contoso.workspace, contoso, RUNS_PER_PAGE + 5, status="failed")
    make_runs(contoso.workspace, contoso, 10, status="succeeded")

    first = client_for(alice).get(runs_url(), {"status": "failed"})
    second = client_for(alice).get(runs_url() + first.context["page"].next_url)

    assert "status=failed" in first.context["page"].next_url
    assert len(shown_ids(second)) == 5
    assert (
        OperationRun.objects.filter(pk__in=shown_ids(second)).exclude(status="failed").count() == 0
    )


def test_it_answers_a_garbled_cursor_with_a_link_to_the_first_page(
    alice: Any, contoso: Any
) -> None:
    make_run(contoso.workspace, contoso)

    response = client_for(alice).get(runs_url(), {"after": "not-a-cursor!!", "status": "failed"})

    assert response.status_code == 400
    assert "This page link is invalid or out of date" in response.content.decode()
    assert f'href="{runs_url()}?status=failed"' in response.content.decode()


@pytest.mark.parametrize("status", ["succeeded", "running"])
def test_it_renders_monitoring_in_a_constant_number_of_queries(
    alice: Any, contoso: Any, fabrikam: Any, status: str
) -> None:
    client = client_for(alice)
    make_runs(contoso.workspace, contoso, 10, status=status if status != "running" else "succeeded")
    if status == "running":
        make_run(contoso.workspace, fabrikam, status="running")
    few = page_queries(client, runs_url())
    few_detail = page_queries(client, reverse("providers:detail", args=["acme", contoso.pk]))

    make_runs(contoso.workspace, contoso, 990)
    make_runs(contoso.workspace, fabrikam, 10)
    many = page_queries(client, runs_url())
    many_detail = page_queries(client, reverse("providers:detail", args=["acme", contoso.pk]))

    assert few == many
    assert few_detail == many_detail


def test_it_shows_a_run_timeline_summary_context_and_failure(alice: Any, contoso: Any) -> None:
    started = timezone.now() - dt.timedelta(minutes=3)
    run = make_run(
        contoso.workspace,
        contoso,
        status="partially_succeeded",
        started_at=started,
        heartbeat_at=started + dt.timedelta(minutes=2),
        finished_at=started + dt.timedelta(minutes=2, seconds=5),
        attempts=2,
        summary_counts={
            "managed_device": {"seen": 120, "created": 4, "updated": 3, "removed": 1},
            "mobile_app": {"seen": 9},
        },
        reason_code="graph.permission_denied",
        failure_message="<script>alert(1)</script> Missing DeviceManagementApps.Read.All",
        context={
            "connection": "Contoso",
            "graph_request_ids": ["req-1", "req-2"],
            "waits": {"count": 1, "seconds": 2.5},
        },
    )

    response = client_for(alice).get(run_url(run))

    body = response.content.decode()
    assert response.status_code == 200
    assert "Partially succeeded" in body
    assert "2 min 05 s" in body
    assert "<td>120</td>" in body
    assert "<th>Removed</th>" in body
    assert "req-2" in body
    assert "Graph request ids" in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "<script>alert" not in body
    assert "Permission denied" in body or "permission" in body.lower()
    assert "What to do:" in body
    assert "every 2s" not in body


def test_it_polls_the_run_detail_while_active_then_stops(alice: Any, contoso: Any) -> None:
    run = make_run(contoso.workspace, contoso, status="running", progress_done=1)
    client = client_for(alice)

    polling = client.get(run_url(run), **HTMX)
    assert polling.status_code == 200
    assert 'hx-trigger="every 2s"' in polling.content.decode()
    assert polling.content.decode().lstrip().startswith('<div id="run-body"')

    OperationRun.objects.filter(pk=run.pk).update(status="succeeded", finished_at=timezone.now())
    final = client.get(run_url(run), **HTMX)
    assert final.status_code == 286
    assert "Succeeded" in final.content.decode()
    assert "every 2s" not in final.content.decode()


def test_it_keeps_runs_of_a_deleted_connection_readable(
    alice: Any, contoso: Any, fabrikam: Any
) -> None:
    from tenantatlas.providers.services.connections import delete_connection

    run = make_run(fabrikam.workspace, fabrikam, status="failed", reason_code="auth.app_not_found")
    delete_connection(actor=alice, connection=fabrikam)
    client = client_for(alice)

    listed = client.get(runs_url(), {"connection": fabrikam.pk})
    detail = client.get(run_url(run))

    assert shown_ids(listed) == [run.pk]
    assert "Fabrikam (deleted)" in listed.content.decode()
    assert detail.status_code == 200
    assert "(deleted)" in detail.content.decode()
    assert reverse("providers:detail", args=["acme", fabrikam.pk]) not in detail.content.decode()


def test_it_offers_every_connection_and_keeps_the_chosen_one_selected(
    alice: Any, contoso: Any, fabrikam: Any
) -> None:
    page = client_for(alice).get(runs_url(), {"connection": fabrikam.pk}).content.decode()
    assert f'<option value="{fabrikam.pk}" selected>{fabrikam.display_name}</option>' in page
    assert f'<option value="{contoso.pk}">{contoso.display_name}</option>' in page
