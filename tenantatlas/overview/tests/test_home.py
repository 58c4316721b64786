"""The home page: one row per workspace of the person, nothing of any other workspace, and the
same number of queries for two workspaces or ten."""

from __future__ import annotations

import re
import uuid

import pytest
from django.urls import reverse

from tenantatlas.overview.tests.estate import Tenant, add_tenant, seed_acme, seed_globex
from tenantatlas.testing import client_for, page_queries
from tenantatlas.workspaces.models import Membership, Role, Workspace

HOME = reverse("overview:home")


def row_of(html: str, slug: str) -> str:
    match = re.search(rf'<tr id="workspace-{slug}">(.*?)</tr>', html, flags=re.S)
    assert match, slug
    return match.group(1)


def cells(row: str) -> list[str]:
    return [
        " ".join(re.sub(r"<[^>]+>", " ", cell).split())
        for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)
    ]


@pytest.fixture
def zeta(alice) -> Workspace:
    workspace = Workspace.objects.create(name="Zeta Services", slug="zeta")
    Membership.objects.create(workspace=workspace, user=alice, role=Role.READONLY)
    add_tenant(workspace, alice, Tenant("Zulu", devices={"compliant": 1, "noncompliant": 3}))
    return workspace


def test_it_shows_one_row_per_workspace_of_the_person_and_nothing_else(
    acme, alice, zeta, globex, mallory
):
    seed_acme(acme, alice)
    seed_globex(globex, mallory)

    html = client_for(alice).get(HOME).content.decode()

    assert re.findall(r'id="workspace-([\w-]+)"', html) == ["zeta", "acme"]  # newest first
    acme_row = cells(row_of(html, "acme"))
    assert acme_row[0:2] == ["Acme IT", "Owner"]
    assert acme_row[2] == "1 Unhealthy 1 Degraded 1 Healthy"
    assert acme_row[3] == "78.6 % of 14"
    assert acme_row[4] == "2"  # problem runs in the last 24 h
    assert acme_row[5].startswith("3")  # expired or expiring within 60 days: Bravo, Alpha, Charlie
    zeta_row = cells(row_of(html, "zeta"))
    assert zeta_row[1:5] == ["Read-only", "1 Healthy", "25 % of 4", "0"]
    assert "Globex" not in html
    assert "Initech" not in html
    assert reverse("overview:workspace", kwargs={"slug": "globex"}) not in html


def test_it_opens_the_only_workspace_of_a_person_at_once(globex, mallory):
    response = client_for(mallory).get(HOME)

    assert response.status_code == 302
    assert response["Location"] == reverse("overview:workspace", kwargs={"slug": "globex"})


def test_its_query_count_does_not_grow_with_the_workspaces(acme, alice):
    def join(count: int) -> None:
        for _ in range(count):
            slug = f"ws-{uuid.uuid4().hex[:8]}"
            workspace = Workspace.objects.create(name=slug, slug=slug)
            Membership.objects.create(workspace=workspace, user=alice, role=Role.OWNER)
            add_tenant(workspace, alice, Tenant("T", devices={"compliant": 2}, expires_in_days=3))

    join(1)
    client = client_for(alice)
    few = page_queries(client, HOME)
    join(9)
    many = page_queries(client, HOME)

    assert many == few
    assert len(re.findall(r'id="workspace-', client.get(HOME).content.decode())) == 11
