"""Sign in and out, the landing page, a first workspace, and the workspace switcher."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tenantatlas.audit.models import AuditEvent
from tenantatlas.testing import PASSWORD, client_for, make_user
from tenantatlas.workspaces.models import Membership, Role, Workspace

LOGIN = reverse("accounts:login")
LOGOUT = reverse("accounts:logout")
HOME = reverse("overview:home")
START = reverse("members:start")
SWITCH = reverse("workspaces:switch")


def connections_of(slug: str) -> str:
    return reverse("providers:list", kwargs={"slug": slug})


def overview_of(slug: str) -> str:
    return reverse("overview:workspace", kwargs={"slug": slug})


def first_on_home_page(client: Client) -> str:
    """The workspace the home page lists first (a member of several lands there)."""
    response = client.get(HOME)
    assert response.status_code == 200
    return re.findall(r'id="workspace-([\w-]+)"', response.content.decode())[0]


def signed_in_as(client: Client) -> str | None:
    html = client.get(HOME, follow=True).content.decode()
    match = re.search(r"Sign out (\w+)", html)
    return match.group(1) if match else None


@pytest.fixture
def newcomer(db: Any) -> Any:
    """A user who belongs to no workspace yet."""
    return make_user("nora")


def test_it_shows_the_sign_in_page(db: Any) -> None:
    response = Client().get(LOGIN)

    assert response.status_code == 200
    assert 'name="username"' in response.content.decode()
    assert 'name="password"' in response.content.decode()


def test_it_signs_in_and_lands_on_the_users_workspace(alice: Any, acme: Any) -> None:
    client = Client()

    response = client.post(LOGIN, {"username": "alice", "password": PASSWORD}, follow=True)

    assert response.redirect_chain == [(HOME, 302), (overview_of("acme"), 302)]
    assert response.status_code == 200
    assert "<h1>Overview</h1>" in response.content.decode()
    assert signed_in_as(client) == "alice"


def test_it_refuses_a_wrong_password(alice: Any) -> None:
    client = Client()

    response = client.post(LOGIN, {"username": "alice", "password": "wrong"})

    assert response.status_code == 200
    assert "Please enter a correct username and password." in response.content.decode()
    assert client.get(HOME)["Location"].startswith(LOGIN)


def test_it_returns_to_the_page_that_asked_for_sign_in(alice: Any, acme: Any) -> None:
    client = Client()
    audit = reverse("audit:log", kwargs={"slug": "acme"})
    redirect = client.get(audit)
    assert redirect["Location"] == f"{LOGIN}?next={audit}"

    response = client.post(
        f"{LOGIN}?next={audit}", {"username": "alice", "password": PASSWORD, "next": audit}
    )

    assert response["Location"] == audit


def test_it_ignores_a_next_address_on_another_site(alice: Any, acme: Any) -> None:
    response = Client().post(
        LOGIN, {"username": "alice", "password": PASSWORD, "next": "https://evil.example/phish"}
    )

    assert response.status_code == 302
    assert response["Location"] == HOME


def test_it_sends_signed_in_users_away_from_the_sign_in_page(alice: Any, acme: Any) -> None:
    response = client_for(alice).get(LOGIN)

    assert response.status_code == 302
    assert response["Location"] == HOME


def test_it_signs_out_with_a_post_only(alice: Any, acme: Any) -> None:
    client = client_for(alice)

    assert client.get(LOGOUT).status_code == 405
    response = client.post(LOGOUT)

    assert response.status_code == 302
    assert response["Location"] == LOGIN
    after = client.get(connections_of("acme"))
    assert after.status_code == 302
    assert after["Location"].startswith(LOGIN)


def test_it_offers_a_user_without_workspace_to_create_one(newcomer: Any, acme: Any) -> None:
    assert client_for(newcomer).get(HOME)["Location"] == START
    response = client_for(newcomer).get(START)

    assert response.status_code == 200
    html = response.content.decode()
    assert "You are not a member of any workspace yet." in html
    assert "Create workspace" in html
    assert client_for(newcomer).get(connections_of("acme")).status_code == 404


def test_it_creates_a_first_workspace_with_the_user_as_owner(newcomer: Any) -> None:
    client = client_for(newcomer)

    response = client.post(START, {"name": "Nora's MSP"}, follow=True)

    workspace = Workspace.objects.get(name="Nora's MSP")
    assert response.redirect_chain == [(overview_of(workspace.slug), 302)]
    assert workspace.slug == "noras-msp"
    assert Membership.objects.get(workspace=workspace, user=newcomer).role == Role.OWNER
    event = AuditEvent.objects.get(action="workspace.created")
    assert (event.workspace, event.actor) == (workspace, newcomer)
    # an owner manages members and reads the audit log of the new workspace
    assert client.get(reverse("members:list", kwargs={"slug": workspace.slug})).status_code == 200
    assert client.get(HOME)["Location"] == overview_of(workspace.slug)
    assert client.get(START)["Location"] == HOME


def test_it_refuses_an_empty_workspace_name(newcomer: Any) -> None:
    response = client_for(newcomer).post(START, {"name": "   "})

    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert not Workspace.objects.exists()


def test_it_does_not_create_a_second_workspace_from_the_landing_page(alice: Any, acme: Any) -> None:
    response = client_for(alice).post(HOME, {"name": "Sneaky"})

    assert response["Location"] == overview_of("acme")
    assert list(Workspace.objects.values_list("slug", flat=True)) == ["acme"]


@pytest.fixture
def alice_in_globex(alice: Any, globex: Any, mallory: Any) -> Any:
    Membership.objects.create(workspace=globex, user=alice, role=Role.READONLY)
    return alice


def test_it_lists_only_the_users_own_workspaces_in_the_switcher(
    alice: Any, acme: Any, mallory: Any
) -> None:
    html = client_for(alice).get(connections_of("acme")).content.decode()

    assert re.findall(r'name="slug" value="([^"]+)"', html) == ["acme"]


def test_it_switches_to_another_of_the_users_workspaces_and_remembers_it(
    alice_in_globex: Any, acme: Any
) -> None:
    client = client_for(alice_in_globex)
    html = client.get(connections_of("acme")).content.decode()
    assert sorted(re.findall(r'name="slug" value="([^"]+)"', html)) == ["acme", "globex"]

    response = client.post(SWITCH, {"slug": "globex"})

    assert response["Location"] == overview_of("globex")
    assert first_on_home_page(client) == "globex"  # the home page lists the one used last first
    client.post(SWITCH, {"slug": "acme"})
    assert first_on_home_page(client) == "acme"


def test_it_does_not_switch_to_a_workspace_the_user_is_not_in(
    alice: Any, acme: Any, globex: Any
) -> None:
    client = client_for(alice)

    response = client.post(SWITCH, {"slug": "globex"})

    assert response["Location"] == HOME
    assert client.get(HOME)["Location"] == overview_of("acme")
    assert client.session.get("workspace_slug") is None


def test_it_forgets_a_remembered_workspace_the_user_has_left(
    alice_in_globex: Any, acme: Any, globex: Any
) -> None:
    client = client_for(alice_in_globex)
    client.post(SWITCH, {"slug": "globex"})

    Membership.objects.filter(workspace=globex, user=alice_in_globex).delete()

    assert client.get(HOME)["Location"] == overview_of("acme")
    assert client.get(connections_of("globex")).status_code == 404
