"""List pages cost the same number of queries for 2 rows as for 12 (no N+1)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tenantatlas.audit.services import record_event
from tenantatlas.testing import client_for, make_connection, make_user
from tenantatlas.workspaces.models import Membership, Role


def queries_for(client: Any, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured.captured_queries)


def add_connections(workspace: Any, actor: Any, n: int) -> None:
    for i in range(n):
        make_connection(workspace, actor, name=f"Tenant {i}", entra_tenant_id=str(uuid.uuid4()))


def add_members(workspace: Any, n: int) -> None:
    for _ in range(n):
        user = make_user(f"u{uuid.uuid4().hex[:8]}")
        Membership.objects.create(workspace=workspace, user=user, role=Role.OPERATOR)


def add_events(workspace: Any, actor: Any, n: int) -> None:
    for i in range(n):
        record_event(workspace=workspace, actor=actor, action=f"test.event_{i}")


@pytest.mark.parametrize(
    ("path", "grow"),
    [
        ("connections/", lambda ws, actor, n: add_connections(ws, actor, n)),
        ("members/", lambda ws, actor, n: add_members(ws, n)),
        ("audit/", lambda ws, actor, n: add_events(ws, actor, n)),
    ],
    ids=["connections", "members", "audit"],
)
def test_it_lists_without_a_query_per_row(path: str, grow: Any, alice: Any, acme: Any) -> None:
    client = client_for(alice)
    url = f"/w/{acme.slug}/{path}"
    grow(acme, alice, 2)
    queries_for(client, url)  # warm up session and caches
    few = queries_for(client, url)

    grow(acme, alice, 10)
    many = queries_for(client, url)

    assert many == few


def test_it_lists_1000_connections_with_the_queries_of_10(alice: Any, acme: Any) -> None:
    """Issue acceptance: the Connections page costs the same with 10 and with 1,000 rows."""
    from tenantatlas.providers.models import CredentialKind, ProviderConnection, ProviderCredential

    def bulk_add(n: int, start: int) -> None:
        rows = ProviderConnection.objects.bulk_create(
            ProviderConnection(
                workspace=acme, display_name=f"Bulk {start + i}", entra_tenant_id=uuid.uuid4()
            )
            for i in range(n)
        )
        ProviderCredential.objects.bulk_create(
            ProviderCredential(
                connection=row,
                kind=CredentialKind.CLIENT_SECRET,
                client_id=uuid.uuid4(),
                ciphertext="x",
                key_id="k",
            )
            for row in rows
        )

    client = client_for(alice)
    url = f"/w/{acme.slug}/connections/"
    bulk_add(10, 0)
    queries_for(client, url)
    ten = queries_for(client, url)
    bulk_add(990, 10)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    assert response.text.count('id="connection-') == 50  # one page
    assert "Page 1 of 20" in response.text
    assert len(captured.captured_queries) == ten
