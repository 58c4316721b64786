"""After sign-in a user lands on their home page, the workspace they used last first (never one
chosen by name order); with a single workspace, on that workspace's overview."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tenantatlas.testing import PASSWORD
from tenantatlas.workspaces.models import Membership, Role, Workspace

HOME = reverse("overview:home")


def connections_of(workspace: Workspace) -> str:
    return reverse("providers:list", kwargs={"slug": workspace.slug})


def signed_in(username: str) -> Client:
    """A fresh browser that signed in with the password (no session carried over)."""
    client = Client()
    response = client.post(reverse("accounts:login"), {"username": username, "password": PASSWORD})
    assert response.status_code == 302
    return client


def overview_of(workspace: Workspace) -> str:
    return reverse("overview:workspace", kwargs={"slug": workspace.slug})


def landing(username: str) -> str:
    """The workspace sign-in offers first: its overview, or the home page's first row."""
    response = signed_in(username).get(HOME)
    if response.status_code == 302:
        return str(response["Location"])
    assert response.status_code == 200
    slugs = re.findall(r'id="workspace-([\w-]+)"', response.content.decode())
    assert len(slugs) == Membership.objects.filter(user__username=username).count()
    return overview_of(Workspace.objects.get(slug=slugs[0]))


@pytest.fixture
def zeta(alice: Any) -> Workspace:
    """A second workspace of alice's whose name sorts after "Acme IT" and whose pk is larger."""
    workspace = Workspace.objects.create(name="Zeta Services", slug="zeta")
    Membership.objects.create(workspace=workspace, user=alice, role=Role.READONLY)
    return workspace


def test_it_lists_the_workspace_used_last_first_not_the_first_by_name(
    alice: Any, acme: Workspace, zeta: Workspace
) -> None:
    signed_in("alice").get(connections_of(zeta))
    assert landing("alice") == overview_of(zeta)

    signed_in("alice").get(connections_of(acme))
    assert landing("alice") == overview_of(acme)


def test_it_follows_a_change_of_workspace_within_the_same_minute(
    alice: Any, acme: Workspace, zeta: Workspace
) -> None:
    browser = signed_in("alice")
    browser.get(connections_of(zeta))
    browser.get(connections_of(acme))
    browser.get(connections_of(zeta))  # zeta's last use was written less than a minute ago

    assert landing("alice") == overview_of(zeta)


def test_it_remembers_a_switch_even_before_the_page_opens(
    alice: Any, acme: Workspace, zeta: Workspace
) -> None:
    browser = signed_in("alice")
    browser.get(connections_of(acme))

    browser.post(reverse("workspaces:switch"), {"slug": "zeta"})

    assert landing("alice") == overview_of(zeta)


def test_it_writes_the_last_use_at_most_once_a_minute(alice: Any, acme: Workspace) -> None:
    browser = signed_in("alice")
    membership = Membership.objects.get(user=alice, workspace=acme)
    assert membership.last_used_at is None

    browser.get(connections_of(acme))
    first = Membership.objects.get(pk=membership.pk).last_used_at
    with CaptureQueriesContext(connection) as queries:
        browser.get(connections_of(acme))
    second = Membership.objects.get(pk=membership.pk).last_used_at
    Membership.objects.filter(pk=membership.pk).update(
        last_used_at=timezone.now() - dt.timedelta(minutes=1, seconds=1)
    )
    browser.get(connections_of(acme))
    third = Membership.objects.get(pk=membership.pk).last_used_at

    assert first is not None
    assert second == first
    writes = [q["sql"] for q in queries.captured_queries if "workspaces_membership" in q["sql"]]
    assert [sql for sql in writes if sql.startswith("UPDATE")] == []
    assert third is not None
    assert third > first


def test_it_lists_the_newest_membership_first_when_none_was_used_yet(
    alice: Any, acme: Workspace, zeta: Workspace
) -> None:
    assert landing("alice") == overview_of(zeta)


def test_it_skips_a_last_used_workspace_the_user_has_left(
    alice: Any, acme: Workspace, zeta: Workspace
) -> None:
    signed_in("alice").get(connections_of(zeta))

    Membership.objects.filter(user=alice, workspace=zeta).delete()

    assert landing("alice") == overview_of(acme)
