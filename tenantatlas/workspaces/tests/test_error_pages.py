"""The 403 and 404 pages inside a workspace keep its navigation, for its members only.

A member who is refused an action, asks for an object that is gone or mistypes a URL under
``/w/<slug>/`` stays in the workspace: the top bar and the section navigation remain. An outsider
gets the plain 404 page: nothing on it names the workspace or links into it.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from tenantatlas.testing import client_for
from tenantatlas.workspaces.models import Workspace

SECTIONS = 'class="app-sections"'


def _assert_in_workspace(response: Any, workspace: Workspace) -> None:
    page = response.content.decode()
    assert SECTIONS in page
    assert reverse("providers:list", kwargs={"slug": workspace.slug}) in page
    assert workspace.name in page  # the switcher names the workspace the page belongs to


def _assert_outside(response: Any, workspace: Workspace) -> None:
    page = response.content.decode()
    assert SECTIONS not in page
    assert workspace.name not in page
    assert f"/w/{workspace.slug}/" not in page


def test_it_keeps_the_navigation_on_a_403_for_a_missing_capability(
    vera: Any, acme: Workspace
) -> None:
    response = client_for(vera).get(reverse("members:list", kwargs={"slug": acme.slug}))

    assert response.status_code == 403
    assert "Not allowed" in response.content.decode()
    _assert_in_workspace(response, acme)


def test_it_keeps_the_navigation_on_a_404_for_an_object_of_the_workspace(
    alice: Any, acme: Workspace
) -> None:
    url = reverse("providers:detail", kwargs={"slug": acme.slug, "pk": 999_999})

    response = client_for(alice).get(url)

    assert response.status_code == 404
    _assert_in_workspace(response, acme)


def test_it_keeps_the_navigation_on_a_404_for_an_unknown_url_of_the_workspace(
    alice: Any, acme: Workspace
) -> None:
    response = client_for(alice).get(f"/w/{acme.slug}/no-such-page/")

    assert response.status_code == 404
    assert "Not found" in response.content.decode()
    _assert_in_workspace(response, acme)


def test_it_shows_only_the_capabilities_the_member_holds(vera: Any, acme: Workspace) -> None:
    response = client_for(vera).get(f"/w/{acme.slug}/no-such-page/")

    page = response.content.decode()
    assert response.status_code == 404
    assert reverse("members:list", kwargs={"slug": acme.slug}) not in page  # vera cannot manage
    assert reverse("operations:runs", kwargs={"slug": acme.slug}) in page


@pytest.mark.parametrize(
    "url",
    [
        "/w/acme/connections/",
        "/w/acme/members/",
        "/w/acme/no-such-page/",
        "/w/acme/connections/1/",
    ],
)
def test_it_tells_an_outsider_nothing_about_the_workspace(
    url: str, mallory: Any, alice: Any, acme: Workspace
) -> None:
    response = client_for(mallory).get(url)

    assert response.status_code == 404
    _assert_outside(response, acme)


def test_it_shows_an_outsider_the_navigation_of_none_of_their_workspaces(
    mallory: Any, acme: Workspace
) -> None:
    """mallory's own workspace is in her switcher, but the page is not one of Globex's."""
    response = client_for(mallory).get(f"/w/{acme.slug}/no-such-page/")

    assert SECTIONS not in response.content.decode()


def test_it_keeps_the_anonymous_404_plain(acme: Workspace) -> None:
    response = client_for(None).get(f"/w/{acme.slug}/no-such-page/")

    assert response.status_code == 404
    _assert_outside(response, acme)
