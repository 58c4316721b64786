"""The workspace overview: every figure right, every figure a working link, nothing of another
workspace, and the same number of queries for 10 or 1,000 connections."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone

from tenantatlas.inventory.models import ComplianceTrendDay, TenantSummary
from tenantatlas.lib.templatetags.local_dates import local_date
from tenantatlas.overview.tests.estate import seed_acme, seed_globex
from tenantatlas.providers.models import ProviderConnection
from tenantatlas.testing import client_for, page_queries
from tenantatlas.workspaces.models import Workspace


def overview_url(workspace: Workspace, **query: str) -> str:
    url = reverse("overview:workspace", kwargs={"slug": workspace.slug})
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def figures(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-figure="([\w-]+)">(?:<strong>)?([^<]+)<', html))


@pytest.fixture
def estate(acme, alice, globex, mallory) -> dict[str, ProviderConnection]:
    seed_globex(globex, mallory)
    return seed_acme(acme, alice)


def test_it_shows_the_estates_figures_and_none_of_another_workspaces(estate, acme, vera):
    html = client_for(vera).get(overview_url(acme)).content.decode()

    assert figures(html) == {
        "health-unhealthy": "1",
        "health-degraded": "1",
        "health-healthy": "1",
        "health-unknown": "0",
        "disabled": "1",
        "devices-total": "14",
        "share": "78.6 %",  # 11 of 14
        "noncompliant": "2",
        "in-grace": "1",
        "stale": "3",
        "expired": "1",
        "expiring-7": "1",
        "expiring-30": "1",
        "expiring-60": "2",
        "problems": "2",
        "changes": "3",
        "changes-changed": "2",
        "changes-created": "1",
        "changes-removed": "0",
    }
    assert "Initech" not in html


def test_it_lists_the_troubled_connections_with_reason_and_remedy(estate, acme, vera):
    html = client_for(vera).get(overview_url(acme)).content.decode()
    troubled = html[html.index('id="troubled-heading"') : html.index('id="trend-heading"')]

    for shown in ("Bravo", "Charlie", "auth.client_secret_expired", "graph.permission_denied"):
        assert shown in troubled
    for healthy_or_disabled in ("Alpha", "Delta"):
        assert healthy_or_disabled not in troubled
    for conn in (estate["Bravo"], estate["Charlie"]):
        assert reverse("providers:detail", kwargs={"slug": "acme", "pk": conn.pk}) in troubled


def test_a_troubled_connection_without_a_reason_code_shows_its_message_not_an_error(
    acme, alice, vera
):
    from tenantatlas.overview.tests.estate import Tenant, add_tenant

    conn = add_tenant(acme, alice, Tenant("Echo", health="degraded"))
    ProviderConnection.objects.filter(pk=conn.pk).update(health_message="Expires in 5 days.")

    html = client_for(vera).get(overview_url(acme)).content.decode()
    troubled = html[html.index('id="troubled-heading"') : html.index('id="trend-heading"')]

    assert "Expires in 5 days." in troubled
    assert "Internal error" not in troubled


def test_every_figure_links_to_a_list_that_answers(estate, acme, vera):
    client = client_for(vera)
    html = client.get(overview_url(acme)).content.decode()
    links = {
        unescape(href)
        for href in re.findall(r'href="([^"]+)"', html)
        if href.startswith("/w/acme/") and "?" in href
    }
    assert len(links) > 20
    for link in sorted(links):
        response = client.get(link)
        assert response.status_code == 200, link
        assert b"Some filters were ignored" not in response.content, link


def _rows_behind(response) -> int:
    """How many rows the list a figure links to holds."""
    context = response.context
    if "total" in context:  # inventory: the filtered list's total
        return int(context["total"])
    page = context["page"]
    if hasattr(page, "paginator"):  # connections: paged with a count
        return int(page.paginator.count)
    return len(page.items)  # Monitoring: keyset pages (every figure here fits on one)


def test_every_figure_counts_the_rows_of_the_list_it_opens(estate, acme, vera):
    client = client_for(vera)
    html = client.get(overview_url(acme)).content.decode()
    linked = re.findall(r'href="([^"]+)" data-figure="([\w-]+)">([^<]+)<', html)
    assert len(linked) == 18  # every figure but the compliant share (a ratio: its link below)
    share = re.search(r'href="([^"]+)" data-figure="share"', html)
    assert share
    assert _rows_behind(client.get(unescape(share.group(1)))) == 11  # 7 + 4 compliant of 14
    for href, figure, value in linked:
        response = client.get(unescape(href))
        assert response.status_code == 200, href
        assert _rows_behind(response) == int(value), (figure, href)

    # The tenant table's figures open the same lists for one connection.
    alpha = estate["Alpha"]
    row = "".join(tenant_cells(html, alpha))
    cells = dict(
        (query, value)
        for query, value in re.findall(r'href="[^"]*\?([^"]+)">([\d.,]+)(?: %)?<', row)
    )
    behind = {
        unescape(query): _rows_behind(client.get(f"/w/acme/inventory/?{unescape(query)}"))
        for query in cells
        if "kind=managed_device" in unescape(query)
    }
    base = f"kind=managed_device&connection={alpha.pk}"
    assert behind == {
        f"{base}&compliance_state=compliant": 7,
        f"{base}&compliance_state=noncompliant": 2,
        f"{base}&stale=1": 3,
        base: 10,
    }


def test_the_tenant_table_sorts_by_compliant_share(estate, acme, vera):
    client = client_for(vera)

    def order(sort: str) -> list[str]:
        html = client.get(overview_url(acme, sort=sort)).content.decode()
        table = html[html.index('id="tenants-heading"') :]
        ids = [int(pk) for pk in re.findall(r'id="tenant-(\d+)"', table)]
        names = dict(ProviderConnection.objects.values_list("pk", "display_name"))
        return [names[pk] for pk in ids]

    # Charlie 100 %, Alpha 70 %; tenants without devices come last either way.
    assert order("-share") == ["Charlie", "Alpha", "Bravo", "Delta"]
    assert order("share") == ["Alpha", "Charlie", "Bravo", "Delta"]
    assert order("health")[:2] == ["Bravo", "Charlie"]  # unhealthy first, then degraded
    assert order("nonsense") == order("health")


def test_the_figure_links_carry_the_filters_they_promise(estate, acme, vera):
    html = client_for(vera).get(overview_url(acme)).content.decode()

    def query_of(figure: str) -> dict[str, list[str]]:
        href = re.search(rf'href="([^"]+)" data-figure="{figure}"', html)
        assert href, figure
        return parse_qs(urlsplit(unescape(href.group(1))).query)

    assert query_of("noncompliant") == {
        "kind": ["managed_device"],
        "compliance_state": ["noncompliant"],
    }
    assert query_of("stale") == {"kind": ["managed_device"], "stale": ["1"]}
    assert query_of("problems") == {"status": ["problems"], "finished": ["24h"]}
    assert query_of("expired") == {"expiry": ["expired"]}
    assert query_of("health-degraded") == {"health": ["degraded"], "status": ["enabled"]}


def tenant_cells(html: str, conn: ProviderConnection) -> list[str]:
    """The cells of a connection's row in the tenant table, each with its opening tag."""
    row = re.search(rf'<tr id="tenant-{conn.pk}">(.*?)</tr>', html, flags=re.S)
    assert row, conn.display_name
    return [cell.strip() for cell in re.findall(r"(<td[^>]*>.*?)</td>", row.group(1), flags=re.S)]


def test_a_tenant_without_figures_shows_dashes_its_status_and_never(estate, acme, vera):
    html = client_for(vera).get(overview_url(acme)).content.decode()
    delta = estate["Delta"]
    never = (
        '<td class="overdue"><span class="badge badge-warning" '
        'title="No sync or snapshot has produced data yet">Never</span>'
    )
    dash = '<td><small class="muted">—</small>'

    assert tenant_cells(html, delta) == [
        f'<td><a href="/w/acme/connections/{delta.pk}/">Delta</a> <span class="badge '
        'badge-neutral" data-badge="connection_status:disabled" title="Operations are refused '
        'until it is enabled.">Disabled</span>',
        '<td><span class="badge badge-success" data-badge="health:healthy" title="Authentication,'
        ' permissions and tenant check out.">Healthy</span>',
        dash,
        dash,
        dash,
        f'<td><a href="/w/acme/runs/?status=problems&amp;finished=24h&amp;connection={delta.pk}">'
        "0</a>",
        dash,
        never,
        never,
        '<td><span class="badge badge-neutral" data-badge="credential_expiry:none" title="No '
        'expiry date is known for this credential.">No expiry set</span>',
    ]


def test_a_tenants_figures_link_to_its_lists_and_old_data_is_flagged(estate, acme, vera):
    alpha = estate["Alpha"]
    synced = timezone.now() - dt.timedelta(days=3)
    TenantSummary.objects.filter(connection=alpha).update(last_sync_at=synced)

    html = client_for(vera).get(overview_url(acme)).content.decode()
    cells = tenant_cells(html, alpha)
    devices = f"/w/acme/inventory/?kind=managed_device&amp;connection={alpha.pk}"

    assert cells[:7] == [
        f'<td><a href="/w/acme/connections/{alpha.pk}/">Alpha</a>',
        '<td><span class="badge badge-success" data-badge="health:healthy" title="Authentication,'
        ' permissions and tenant check out.">Healthy</span>',
        f'<td><a href="{devices}&amp;compliance_state=compliant">70 %</a>',
        f'<td><a href="{devices}&amp;compliance_state=noncompliant">2</a>',
        f'<td><a href="{devices}&amp;stale=1">3</a>',
        f'<td><a href="/w/acme/runs/?status=problems&amp;finished=24h&amp;connection={alpha.pk}">'
        "1</a>",
        f'<td><a href="{devices}">10</a>',
    ]
    assert cells[7] == (
        f'<td class="overdue"><time datetime="{synced.isoformat()}" '
        f'title="{local_date(synced)}">3\xa0days ago</time> '
        '<span class="badge badge-warning" title="Older than its schedule, or than a day when it '
        'has none">Out of date</span>'
    )
    assert cells[9] == (
        '<td><span class="badge badge-warning" data-badge="credential_expiry:expiring" '
        'title="The credential expires within the warning window.">Expires soon</span>'
    )


def test_a_tenants_data_is_out_of_date_by_its_own_schedule_or_after_a_day(
    estate, acme, alice, vera
):
    from tenantatlas.operations.models import OperationSchedule
    from tenantatlas.operations.schedules import set_schedule

    now = timezone.now()
    alpha, charlie = estate["Alpha"], estate["Charlie"]
    TenantSummary.objects.filter(connection=alpha).update(
        last_sync_at=now - dt.timedelta(hours=2), last_snapshot_at=now - dt.timedelta(hours=2)
    )
    TenantSummary.objects.filter(connection=charlie).update(
        last_sync_at=now - dt.timedelta(days=3), last_snapshot_at=now - dt.timedelta(days=3)
    )
    for conn, operation, minutes in (
        (alpha, "inventory.sync", 60),  # 2 h old, hourly: out of date
        (alpha, "compliance.snapshot", 6 * 60),  # 2 h old, every 6 h: fine
        (charlie, "inventory.sync", 7 * 24 * 60),  # 3 days old, weekly: fine
        (charlie, "compliance.snapshot", 7 * 24 * 60),  # weekly, but paused: a day applies
    ):
        set_schedule(
            actor=alice, connection=conn, operation_type=operation, interval_minutes=minutes
        )
    OperationSchedule.objects.filter(
        connection=charlie, operation_type="compliance.snapshot"
    ).update(enabled=False)

    html = client_for(vera).get(overview_url(acme)).content.decode()

    def overdue(conn: ProviderConnection) -> list[bool]:
        return [cell.startswith('<td class="overdue">') for cell in tenant_cells(html, conn)[7:9]]

    assert overdue(alpha) == [True, False]
    assert overdue(charlie) == [False, True]


def test_a_tenant_shows_its_current_credentials_expiry_or_that_it_has_none(estate, acme, vera):
    from tenantatlas.providers.models import ProviderCredential

    bravo, charlie = estate["Bravo"], estate["Charlie"]
    ProviderCredential.objects.filter(connection=bravo).update(
        state="retired", retired_at=timezone.now()
    )

    html = client_for(vera).get(overview_url(acme)).content.decode()

    assert 'data-badge="credential_expiry:missing"' in tenant_cells(html, bravo)[9]
    assert 'data-badge="credential_expiry:valid"' in tenant_cells(html, charlie)[9]


def test_it_escapes_connection_names_and_health_messages(acme, alice, vera):
    from tenantatlas.overview.tests.estate import Tenant, add_tenant

    conn = add_tenant(acme, alice, Tenant('<b>Smith & "Sons"</b>', health="degraded"))
    ProviderConnection.objects.filter(pk=conn.pk).update(health_message="<i>Expires</i> soon")

    html = client_for(vera).get(overview_url(acme)).content.decode()
    troubled = html[html.index('id="troubled-heading"') : html.index('id="trend-heading"')]

    name = "&lt;b&gt;Smith &amp; &quot;Sons&quot;&lt;/b&gt;"
    assert tenant_cells(html, conn)[0] == (
        f'<td><a href="/w/acme/connections/{conn.pk}/">{name}</a>'
    )
    assert f'<td><a href="/w/acme/connections/{conn.pk}/">{name}</a></td>' in troubled
    assert "<td>&lt;i&gt;Expires&lt;/i&gt; soon</td>" in troubled
    assert "<b>Smith" not in html
    assert "<i>Expires" not in html


def test_the_trend_chart_follows_every_change_of_the_days_it_draws(acme, vera):
    today = timezone.now()
    for back in range(3):
        ComplianceTrendDay.objects.create(
            workspace=acme,
            day=(today - dt.timedelta(days=back)).date(),
            compliant=10,
            noncompliant=2,
            total=12,
            updated_at=today - dt.timedelta(days=back),
        )
    client = client_for(vera)

    def chart() -> str:
        html = client.get(overview_url(acme)).content.decode()
        start = html.index('<svg xmlns="http://www.w3.org/2000/svg" class="chart')
        return html[start : html.index("</svg>", start)]

    first = chart()
    assert chart() == first
    assert "3 snapshots" in first
    assert ", Not compliant 2," in first

    # A later snapshot of the day rewrites its figures (the time too, but the chart may not
    # rely on it).
    ComplianceTrendDay.objects.filter(workspace=acme, day=today.date()).update(noncompliant=5)
    assert ", Not compliant 5," in chart()
    ComplianceTrendDay.objects.filter(workspace=acme, day=today.date()).delete()
    assert "2 snapshots" in chart()
    assert ", Not compliant 2," in chart()


def _bulk_estate(workspace: Workspace, count: int) -> None:
    conns = ProviderConnection.objects.bulk_create(
        [
            ProviderConnection(
                workspace=workspace,
                display_name=f"Tenant {i:04}",
                entra_tenant_id=uuid.uuid4(),
                health=("healthy", "degraded", "unhealthy", "unknown")[i % 4],
                health_reason_code="graph.permission_denied" if i % 4 else "",
            )
            for i in range(count)
        ]
    )
    TenantSummary.objects.bulk_create(
        [
            TenantSummary(workspace=workspace, connection=c, compliant=3, noncompliant=1, total=4)
            for c in conns
        ]
    )


@pytest.mark.parametrize("sort", ["health", "-share", "last_sync"])
def test_its_query_count_does_not_grow_with_the_connections(acme, vera, globex, sort):
    _bulk_estate(acme, 10)
    _bulk_estate(globex, 10)
    client = client_for(vera)
    few = page_queries(client, overview_url(acme, sort=sort))

    _bulk_estate(acme, 990)
    many = page_queries(client, overview_url(acme, sort=sort))

    assert many == few
    html = client.get(overview_url(acme, sort=sort)).content.decode()
    assert figures(html)["devices-total"] == "4000"
    assert "Page 1 of 20" in html  # 1,000 connections, 50 a page
