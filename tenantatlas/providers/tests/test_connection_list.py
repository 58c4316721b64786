"""The Connections list: paged and searchable, for workspaces with many tenants."""

from __future__ import annotations

import uuid
from typing import Any

from django.urls import reverse

from tenantatlas.providers.models import ProviderConnection
from tenantatlas.testing import client_for, make_connection


def test_it_searches_names_domains_and_tenant_ids(acme: Any, alice: Any, vera: Any) -> None:
    contoso = make_connection(acme, alice, name="Contoso", entra_tenant_id=str(uuid.uuid4()))
    make_connection(acme, alice, name="Fabrikam", entra_tenant_id=str(uuid.uuid4()))
    ProviderConnection.objects.filter(pk=contoso.pk).update(
        default_domain="contoso.onmicrosoft.com"
    )
    url = reverse("providers:list", args=["acme"])
    client = client_for(vera)

    by_name = client.get(url, {"q": "fabri"}).text
    assert "Fabrikam" in by_name
    assert "Contoso" not in by_name
    assert "Contoso" in client.get(url, {"q": "onmicrosoft"}).text
    by_id = client.get(url, {"q": str(contoso.entra_tenant_id)[:8]}).text
    assert "Contoso" in by_id
    assert "Fabrikam" not in by_id
    assert "No connection matches" in client.get(url, {"q": "nothing-like-this"}).text


def test_it_pages_fifty_at_a_time_and_keeps_the_search(acme: Any, alice: Any) -> None:
    for i in range(55):
        make_connection(acme, alice, name=f"Tenant {i:02d}", entra_tenant_id=str(uuid.uuid4()))
    url = reverse("providers:list", args=["acme"])
    client = client_for(alice)
    first = client.get(url, {"q": "Tenant"}).text
    assert first.count('id="connection-') == 50
    assert "q=Tenant&amp;page=2" in first
    second = client.get(url, {"q": "Tenant", "page": 2}).text
    assert second.count('id="connection-') == 5


def test_fifty_rows_stay_under_sixty_kilobytes_and_escape_what_they_show(
    acme: Any, alice: Any
) -> None:
    from tenantatlas.operations.services import start_operation
    from tenantatlas.providers.models import ProviderConnection

    for i in range(50):
        make_connection(
            acme, alice, name=f"Customer {i:02d} <b>", entra_tenant_id=str(uuid.uuid4())
        )
    ProviderConnection.objects.filter(workspace=acme).update(
        entra_tenant_name="Northwind & Partners Ltd",  # as long as most
        health="degraded",
        health_reason_code="permission.missing",
    )
    for connection in ProviderConnection.objects.filter(workspace=acme)[:10]:
        start_operation(actor=alice, connection=connection, operation_type="inventory.sync")

    html = client_for(alice).get(reverse("providers:list", args=["acme"])).text

    assert html.count('id="connection-') == 50
    assert html.count('data-run="queued"') == 10
    assert len(html.encode()) <= 60 * 1024, len(html.encode())  # docs/performance.md, B1
    assert "<b>" not in html
    assert "Customer 00 &lt;b&gt;" in html
    assert "Northwind &amp; Partners" in html
