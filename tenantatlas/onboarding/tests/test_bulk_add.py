"""Bulk add: a list of tenant ids becomes connections of the partner app or per-row errors, and
"Check all new connections" starts their checks through the start gate."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tenantatlas.audit.models import AuditEvent
from tenantatlas.audit.services import record_event
from tenantatlas.lib.errors import Refused
from tenantatlas.onboarding import bulk
from tenantatlas.onboarding.bulk import BulkListRefused, add_connections_in_bulk, parse_bulk_list
from tenantatlas.operations.models import OperationRun
from tenantatlas.providers.models import ProviderConnection, ProviderCredential
from tenantatlas.providers.services import connections as connection_services
from tenantatlas.providers.tests.partner_apps import make_partner_app, make_partner_connection
from tenantatlas.testing import client_for, make_connection

T1 = "4e4e4e4e-5f5f-4a6a-8b7b-9c9c9c9c9c9c"
T2 = "6a6a6a6a-7b7b-4c8c-9d9d-0e0e0e0e0e0e"
T3 = "1b1b1b1b-2c2c-4d3d-8e4e-5f5f5f5f5f5f"


def _url(name: str, workspace: Any) -> str:
    return reverse(f"onboarding:{name}", kwargs={"slug": workspace.slug})


def _tenants(count: int) -> list[str]:
    return [str(uuid.UUID(int=0x5EED << 96 | n)) for n in range(1, count + 1)]


def _created(workspace: Any) -> set[str]:
    return {str(t) for t in workspace.connections.values_list("entra_tenant_id", flat=True)}


# -- parsing ---------------------------------------------------------------------------------


def test_it_reads_ids_names_comments_blank_lines_and_a_header() -> None:
    text = (
        "\ufefftenant_id,name\n"
        f"{T1.upper()}, Northwind Traders\n"
        "\n"
        "# customers of the second wave\n"
        f'  {{{T2}}} , "Coho Winery, Napa"\n'
        f"{T3}\n"
    )

    rows = parse_bulk_list(text)

    assert [(r.line, r.tenant_id, r.name, r.error_code) for r in rows] == [
        (2, T1, "Northwind Traders", ""),
        (5, T2, "Coho Winery, Napa", ""),
        (6, T3, "", ""),
    ]


def test_each_bad_row_gets_its_own_reason() -> None:
    text = f"{T1}\nnot-a-guid, Broken\ncontoso.com, Contoso\n{T1.upper()}, Again\n{T2},{'x' * 101}"

    rows = parse_bulk_list(text)

    assert [r.error_code for r in rows] == [
        "",
        "invalid_tenant",
        "",  # a domain: resolved once the list is read (resolve_domains)
        "duplicate_in_list",
        "name_too_long",
    ]
    assert rows[2].domain == "contoso.com"
    assert rows[2].tenant_id == ""
    assert "line 1" in rows[3].error


@pytest.mark.parametrize("text", ["", "\n  \n# only a comment\n", "tenant_id,name\n"])
def test_an_empty_list_is_refused(text: str) -> None:
    with pytest.raises(BulkListRefused) as refusal:
        parse_bulk_list(text)
    assert refusal.value.code == "empty"


def test_more_rows_than_the_limit_are_refused_as_a_whole(
    acme: Any, alice: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(bulk, "MAX_ROWS", 5)
    partner_app = make_partner_app(acme, alice)

    with pytest.raises(BulkListRefused) as refusal:
        add_connections_in_bulk(
            actor=alice, workspace=acme, partner_app=partner_app, text="\n".join(_tenants(6))
        )

    assert refusal.value.code == "too_many_rows"
    assert "at most 5" in refusal.value.message
    assert not acme.connections.exists()


# -- the service -----------------------------------------------------------------------------


def test_valid_rows_become_partner_connections_and_the_others_errors(acme: Any, alice: Any) -> None:
    partner_app = make_partner_app(acme, alice, cloud="usgov")
    make_partner_connection(partner_app, alice, T3, "Already here")
    credentials_before = ProviderCredential.objects.count()

    result = add_connections_in_bulk(
        actor=alice,
        workspace=acme,
        partner_app=partner_app,
        text=f"{T1}, Northwind\nbad\n{T3}, Again\n{T2}",
    )

    assert [r.error_code for r in result.rows] == ["", "invalid_tenant", "duplicate_tenant", ""]
    assert result.rows[2].error == "This Entra tenant is already connected in this workspace."
    northwind = ProviderConnection.objects.get(entra_tenant_id=T1)
    assert northwind.display_name == "Northwind"
    assert northwind.partner_app == partner_app
    assert northwind.cloud == "usgov"
    assert ProviderConnection.objects.get(entra_tenant_id=T2).display_name == f"Tenant {T2}"
    assert ProviderCredential.objects.count() == credentials_before  # the partner app's only
    event = AuditEvent.objects.get(action="onboarding.bulk_added")
    assert event.metadata["rows"] == 4
    assert event.metadata["created"] == 2
    assert event.metadata["failed"] == 2
    assert event.metadata["errors"] == {"invalid_tenant": 1, "duplicate_tenant": 1}
    assert AuditEvent.objects.filter(action="connection.created").count() == 3


def test_a_row_failing_mid_way_leaves_nothing_and_keeps_the_others(
    acme: Any, alice: Any, monkeypatch: Any
) -> None:
    partner_app = make_partner_app(acme, alice)
    credentials_before = ProviderCredential.objects.count()

    def record_failing_for_t2(**kwargs: Any) -> Any:
        # After the connection row of T2 is inserted: the failure comes mid-way through it.
        if kwargs["action"] == "connection.created" and str(kwargs["target"].entra_tenant_id) == T2:
            raise RuntimeError("disk full")
        return record_event(**kwargs)

    monkeypatch.setattr(connection_services, "record_event", record_failing_for_t2)

    result = add_connections_in_bulk(
        actor=alice, workspace=acme, partner_app=partner_app, text=f"{T1}\n{T2}\n{T3}"
    )

    assert [r.error_code for r in result.rows] == ["", "failed", ""]
    assert _created(acme) == {T1, T3}
    assert not ProviderConnection.objects.filter(entra_tenant_id=T2).exists()
    assert ProviderCredential.objects.count() == credentials_before
    created_events = AuditEvent.objects.filter(action="connection.created")
    assert sorted(e.metadata["entra_tenant_id"] for e in created_events) == sorted([T1, T3])


def test_another_workspaces_partner_app_is_refused(
    acme: Any, alice: Any, globex: Any, mallory: Any
) -> None:
    theirs = make_partner_app(globex, mallory)

    with pytest.raises(Refused):
        add_connections_in_bulk(actor=alice, workspace=acme, partner_app=theirs, text=T1)

    assert not ProviderConnection.objects.exists()


# -- the pages -------------------------------------------------------------------------------


def test_two_hundred_tenants_in_one_request_then_check_all_twice(acme: Any, alice: Any) -> None:
    make_partner_app(acme, alice)
    tenants = _tenants(200)
    client = client_for(alice)

    response = client.post(
        _url("bulk_add", acme),
        {"entries": "\n".join(f"{t}, Customer {n}" for n, t in enumerate(tenants, 1))},
    )

    assert response.status_code == 200
    assert _created(acme) == set(tenants)
    html = response.content.decode()
    assert "200 of 200 added" in html
    assert html.count('data-outcome="created"') == 200
    assert 'id="check-all"' in html
    ids = [str(pk) for pk in acme.connections.values_list("pk", flat=True)]

    first = client.post(_url("bulk_check", acme), {"connection": ids})

    assert first.status_code == 200
    assert OperationRun.objects.filter(operation_type="provider.health_check").count() == 200
    assert first.context["summary"].counts()["started"] == 200

    second = client.post(_url("bulk_check", acme), {"connection": ids})

    counts = second.context["summary"].counts()
    assert counts["started"] == 0
    assert counts["deduplicated"] == 200
    assert OperationRun.objects.filter(operation_type="provider.health_check").count() == 200
    assert "<strong>200</strong> already running" in second.content.decode()


def test_the_page_shows_each_rows_error_and_links_the_created(
    acme: Any, alice: Any, sim: Any
) -> None:
    make_partner_app(acme, alice, cloud="simulator")  # contoso.com: no tenant of the simulator's
    upload = SimpleUploadedFile("tenants.csv", f"tenant_id,name\n{T1},Northwind\n".encode())

    response = client_for(alice).post(
        _url("bulk_add", acme), {"entries": "contoso.com\n", "file": upload}
    )

    html = response.content.decode()
    northwind = ProviderConnection.objects.get(entra_tenant_id=T1)
    assert reverse("providers:detail", kwargs={"slug": acme.slug, "pk": northwind.pk}) in html
    assert "domain_unknown" in html
    assert "1 of 2 added" in html


def test_a_file_that_is_not_text_is_refused(acme: Any, alice: Any) -> None:
    make_partner_app(acme, alice)
    upload = SimpleUploadedFile("tenants.xlsx", b"PK\x03\x04\xff\xfe\x00binary")

    response = client_for(alice).post(_url("bulk_add", acme), {"file": upload})

    assert response.status_code == 400
    assert "not UTF-8 text" in response.content.decode()
    assert not acme.connections.exists()


def test_without_a_partner_app_nothing_is_added(acme: Any, alice: Any) -> None:
    response = client_for(alice).post(_url("bulk_add", acme), {"entries": T1})

    assert "Set up the" in response.content.decode()
    assert not acme.connections.exists()


def test_check_all_ignores_another_workspaces_connections(
    acme: Any, alice: Any, globex: Any, mallory: Any
) -> None:
    theirs = make_connection(globex, mallory, entra_tenant_id=T1)

    response = client_for(alice).post(_url("bulk_check", acme), {"connection": [str(theirs.pk)]})

    assert response.context["summary"].total == 0
    assert not OperationRun.objects.filter(connection=theirs).exists()


def test_an_outsider_gets_404(acme: Any, alice: Any, mallory: Any) -> None:
    make_partner_app(acme, alice)

    response = client_for(mallory).post(_url("bulk_add", acme), {"entries": T1})

    assert response.status_code == 404
    assert not acme.connections.exists()


# -- the API ---------------------------------------------------------------------------------


def _api_bulk_add(user: Any, body: dict[str, Any]) -> Any:
    import json

    from tenantatlas.api.tests.conftest import ApiClient, token_for

    return ApiClient(token_for(user)).post(
        "/api/v1/partner-app/bulk-add", data=json.dumps(body), content_type="application/json"
    )


def test_the_api_answers_each_entry_and_starts_checks_once(acme: Any, alice: Any, sim: Any) -> None:
    make_partner_app(acme, alice, cloud="simulator")

    response = _api_bulk_add(
        alice, {"entries": [f"{T1}, Northwind", "", "contoso.com", T1], "check": True}
    )

    assert response.status_code == 200
    body = response.json()
    northwind = ProviderConnection.objects.get(entra_tenant_id=T1)
    assert body["created"] == 1
    assert body["failed"] == 2
    assert [(r["line"], r["connection_id"]) for r in body["rows"]] == [
        (1, northwind.pk),
        (3, None),
        (4, None),
    ]
    assert body["rows"][1]["error"]["code"] == "domain_unknown"
    assert body["rows"][2]["error"]["code"] == "duplicate_in_list"
    assert body["check"]["started"] == 1
    assert OperationRun.objects.filter(connection=northwind).count() == 1


def test_the_api_refuses_without_a_partner_app_and_an_empty_list(acme: Any, alice: Any) -> None:
    missing = _api_bulk_add(alice, {"entries": [T1]})
    make_partner_app(acme, alice)
    empty = _api_bulk_add(alice, {"entries": ["# nothing", ""]})

    assert missing.status_code == 409
    assert missing.json()["error"]["code"] == "partner_app_missing"
    assert empty.status_code == 400
    assert empty.json()["error"]["code"] == "empty"
    assert not acme.connections.exists()


def test_the_api_uses_the_tokens_workspace_only(
    acme: Any, alice: Any, globex: Any, mallory: Any
) -> None:
    make_partner_app(globex, mallory)

    response = _api_bulk_add(alice, {"entries": [T1]})

    assert response.status_code == 409  # acme has none; globex's partner app is not reachable
    assert not ProviderConnection.objects.exists()


def test_each_row_costs_a_bounded_number_of_queries(acme: Any, alice: Any) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    partner_app = make_partner_app(acme, alice)
    tenants = _tenants(30)
    counts = []
    for batch in (tenants[:10], tenants[10:30]):
        with CaptureQueriesContext(connection) as queries:
            add_connections_in_bulk(
                actor=alice, workspace=acme, partner_app=partner_app, text="\n".join(batch)
            )
        counts.append(len(queries.captured_queries))

    per_row = (counts[1] - counts[0]) / 10
    assert per_row <= 12, counts  # savepoint, lock, checks, insert, audit: nothing per list size
    assert _created(acme) == set(tenants)


# -- domains, resolved through Microsoft's discovery (the simulator's) -------------------------

CONTOSO = "5a1c0e4b-7f2d-4c8e-9b6a-3d2f1e0c9b8a"  # contoso.onmicrosoft.com in the demo scenario


def test_a_verified_domain_becomes_the_tenant_it_names(acme: Any, alice: Any, sim: Any) -> None:
    partner_app = make_partner_app(acme, alice, cloud="simulator")

    result = add_connections_in_bulk(
        actor=alice,
        workspace=acme,
        partner_app=partner_app,
        text=f"Contoso.OnMicrosoft.com, Contoso\nnowhere.example.com\n{CONTOSO}, Again\n{T1}",
    )

    assert [(r.error_code, r.tenant_id) for r in result.rows] == [
        ("", CONTOSO),
        ("domain_unknown", ""),
        ("duplicate_in_list", CONTOSO),  # the same tenant by id: the first row keeps it
        ("", T1),
    ]
    assert "line 1" in result.rows[2].error
    assert _created(acme) == {CONTOSO, T1}
    assert ProviderConnection.objects.get(entra_tenant_id=CONTOSO).display_name == "Contoso"


def test_a_domain_microsoft_could_not_be_asked_about_is_that_rows_error(
    acme: Any, alice: Any, monkeypatch: Any
) -> None:
    from tenantatlas.graph import discovery

    def unreachable(cloud: Any, domain: str, **kwargs: Any) -> str:
        raise discovery.DomainLookupFailed("unreachable", "Microsoft did not answer in time.")

    monkeypatch.setattr(discovery, "tenant_for_domain", unreachable)
    partner_app = make_partner_app(acme, alice)

    result = add_connections_in_bulk(
        actor=alice, workspace=acme, partner_app=partner_app, text=f"contoso.com\n{T1}"
    )

    assert [r.error_code for r in result.rows] == ["domain_unreachable", ""]
    assert "try it again" in result.rows[0].error
    assert _created(acme) == {T1}
