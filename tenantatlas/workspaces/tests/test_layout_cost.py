"""What every workspace page's layout costs: the workspace switcher and the page's access check
share one query of the person's memberships, and the layout's links are the addresses
``reverse`` gives, reversed once per process."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse, set_script_prefix

from tenantatlas.lib.links import layout_url
from tenantatlas.testing import client_for
from tenantatlas.workspaces.models import Membership, Role, Workspace

PAGES = ["overview:workspace", "providers:list", "operations:runs", "notifications:list"]


def membership_reads(client: Any, url: str, **headers: str) -> tuple[Any, int]:
    client.get(url, headers=headers)  # the first visit also notes the workspace as last used
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, headers=headers)
    reads = [
        q["sql"]
        for q in ctx.captured_queries
        if q["sql"].startswith("SELECT") and 'FROM "workspaces_membership"' in q["sql"]
    ]
    return response, len(reads)


def switcher(content: str) -> list[str]:
    """The workspace names the switcher offers, in its order."""
    menu = re.search(r'<details class="dropdown workspace-switcher">(.*?)</details>', content, re.S)
    assert menu, "no workspace switcher"
    return re.findall(r'<button type="submit" class="link">([^<]+) <small>', menu.group(1))


@pytest.mark.parametrize("page", PAGES)
def test_a_page_reads_the_persons_memberships_once(page: str, alice: Any, acme: Workspace) -> None:
    for name, slug in [("Zeta Ops", "zeta"), ("Beta Lab", "beta")]:
        other = Workspace.objects.create(name=name, slug=slug)
        Membership.objects.create(workspace=other, user=alice, role=Role.READONLY)
    client = client_for(alice)

    response, reads = membership_reads(client, reverse(page, args=[acme.slug]))

    assert response.status_code == 200
    assert reads == 1
    content = response.content.decode()
    assert switcher(content) == ["Acme IT", "Beta Lab", "Zeta Ops"]
    assert "Acme IT <small>(Owner)</small>" in content


def test_a_poll_reads_only_its_own_membership(alice: Any, acme: Workspace) -> None:
    response, reads = membership_reads(
        client_for(alice), reverse("notifications:bell", args=[acme.slug]), HX_Request="true"
    )

    assert response.status_code == 200
    assert reads == 1
    assert "workspace-switcher" not in response.content.decode()


@pytest.mark.parametrize("htmx", [False, True])
def test_an_outsider_still_gets_404(htmx: bool, mallory: Any, acme: Workspace) -> None:
    headers = {"HX-Request": "true"} if htmx else {}
    response = client_for(mallory).get(reverse("providers:list", args=[acme.slug]), headers=headers)

    assert response.status_code == 404


def test_the_member_carries_the_signed_in_user(alice: Any, acme: Workspace) -> None:
    response = client_for(alice).get(reverse("overview:workspace", args=[acme.slug]))

    member = response.wsgi_request.member
    assert member.user.pk == alice.pk
    assert member.user.username == "alice"
    assert member.workspace == acme


def test_layout_urls_are_the_reversed_addresses(db: Any) -> None:
    assert layout_url("providers:list", "acme") == reverse("providers:list", args=["acme"])
    assert layout_url("overview:home") == reverse("overview:home")
    assert layout_url("providers:list", "globex") == "/w/globex/connections/"


def test_layout_urls_follow_the_script_prefix(db: Any) -> None:
    before = layout_url("providers:list", "acme")
    set_script_prefix("/atlas/")
    try:
        assert layout_url("providers:list", "acme") == "/atlas" + before
    finally:
        set_script_prefix("/")
    assert layout_url("providers:list", "acme") == before


urlpatterns: list[Any] = []


def test_layout_urls_follow_a_changed_urlconf(db: Any) -> None:
    assert layout_url("overview:home") == "/"
    with override_settings(ROOT_URLCONF=__name__), pytest.raises(NoReverseMatch):
        layout_url("overview:home")
    assert layout_url("overview:home") == "/"
