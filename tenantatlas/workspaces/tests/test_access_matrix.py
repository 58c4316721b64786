"""Isolation and permission matrix: every page route × every kind of visitor.

The table is in routes.py; the expected answer for each role comes from capabilities.py. Outsiders
get 404 (never a hint that the workspace exists), members lacking the capability get 403, and
objects of another workspace addressed inside my workspace's URLs are 404 as well.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tenantatlas.audit.models import AuditEvent
from tenantatlas.providers.models import ProviderConnection
from tenantatlas.testing import client_for
from tenantatlas.workspaces.capabilities import capabilities_of
from tenantatlas.workspaces.models import Invitation, Membership, Role
from tenantatlas.workspaces.tests.routes import (
    GLOBAL_PREFIXES_TESTED_ELSEWHERE,
    GLOBAL_ROUTES,
    OBJECTS,
    WORKSPACE_ROUTES,
    GlobalRoute,
    Route,
)

# Who is asking: the cast member playing each part (None = not signed in).
VISITORS: dict[str, str | None] = {
    "anonymous": None,
    "outsider": "mallory",
    "owner": "alice",
    "manager": "maggie",
    "operator": "bob",
    "readonly": "vera",
}
ROLE_OF: dict[str, str] = {
    "owner": Role.OWNER,
    "manager": Role.MANAGER,
    "operator": Role.OPERATOR,
    "readonly": Role.READONLY,
}
SIGN_IN = "sign-in redirect"


def expected_answer(route: Route, visitor: str) -> int | str:
    if visitor == "anonymous":
        return SIGN_IN
    if visitor == "outsider":
        return 404
    if route.capability not in capabilities_of(ROLE_OF[visitor]):
        return 403
    return route.ok


def _request(client: Any, method: str, url: str, data: dict[str, Any]) -> Any:
    if method == "POST":
        return client.post(url, data)
    return client.get(url)


def _state() -> tuple[int, int, int]:
    """Counts that every state change moves (each service writes an audit event)."""
    return (
        AuditEvent.objects.count(),
        ProviderConnection.objects.live().count(),
        Membership.objects.count(),
    )


@pytest.mark.parametrize(
    ("route", "visitor"),
    [pytest.param(r, v, id=f"{r.id}-{v}") for r in WORKSPACE_ROUTES for v in VISITORS],
)
def test_it_answers_every_visitor_as_the_capability_map_says(
    route: Route, visitor: str, cast: dict[str, Any], acme: Any
) -> None:
    username = VISITORS[visitor]
    user = cast[username] if username else None
    pk = OBJECTS[route.obj](acme, user or cast["alice"]) if route.obj else None
    if route.prepare is not None:
        route.prepare(acme)
    url = route.url(acme, pk)
    before = _state()

    response = _request(client_for(user), route.method, url, route.data)

    expected = expected_answer(route, visitor)
    if expected == SIGN_IN:
        assert response.status_code == 302
        assert response["Location"] == f"{reverse('accounts:login')}?next={quote(url)}"
    else:
        assert response.status_code == expected, response.content[:500]
    if expected in (SIGN_IN, 403, 404) or route.method == "GET":
        assert _state() == before, "a refused or read-only request changed data"
    elif route.audited:
        assert AuditEvent.objects.count() > before[0], "an allowed POST must change something"


def _without_csrf(html: bytes) -> bytes:
    return re.sub(rb'(X-CSRFToken": "|name="csrfmiddlewaretoken" value=")[^"]+', rb"\1", html)


def test_it_refuses_outsiders_with_the_same_page_as_a_missing_workspace(
    mallory: Any, acme: Any
) -> None:
    client = client_for(mallory)

    existing = client.get(reverse("providers:list", kwargs={"slug": acme.slug}))
    missing = client.get(reverse("providers:list", kwargs={"slug": "no-such-workspace"}))

    assert existing.status_code == missing.status_code == 404
    assert _without_csrf(existing.content) == _without_csrf(missing.content)
    assert b"Acme" not in existing.content


OBJECT_ROUTES = [r for r in WORKSPACE_ROUTES if r.obj is not None]


@pytest.mark.parametrize("route", [pytest.param(r, id=r.id) for r in OBJECT_ROUTES])
@pytest.mark.parametrize("direction", ["acme-url-globex-object", "globex-url-acme-object"])
def test_it_hides_objects_of_another_workspace_addressed_in_my_urls(
    route: Route, direction: str, alice: Any, mallory: Any, acme: Any, globex: Any
) -> None:
    """The owner holds every capability, so only the workspace boundary can say no."""
    if direction == "acme-url-globex-object":
        actor, mine, theirs = alice, acme, globex
    else:
        actor, mine, theirs = mallory, globex, acme
    OBJECTS[route.obj](mine, actor)  # my workspace has objects of this kind too
    foreign_pk = OBJECTS[route.obj](theirs, actor)
    before = _state()

    response = _request(client_for(actor), route.method, route.url(mine, foreign_pk), route.data)

    assert response.status_code == 404
    assert _state() == before


@pytest.mark.parametrize("route", [pytest.param(r, id=r.id) for r in OBJECT_ROUTES])
def test_it_answers_404_for_ids_that_do_not_exist(route: Route, alice: Any, acme: Any) -> None:
    response = _request(client_for(alice), route.method, route.url(acme, 987654321), route.data)

    assert response.status_code == 404


@pytest.mark.parametrize(
    "route",
    [pytest.param(r, id=r.id) for r in OBJECT_ROUTES if r.obj == "connection"],
)
def test_it_answers_404_for_a_deleted_connection(route: Route, alice: Any, acme: Any) -> None:
    from tenantatlas.providers.services.connections import delete_connection

    pk = OBJECTS["connection"](acme, alice)
    delete_connection(actor=alice, connection=ProviderConnection.objects.get(pk=pk))

    response = _request(client_for(alice), route.method, route.url(acme, pk), route.data)

    assert response.status_code == 404


POST_ONLY = sorted(
    {r.name for r in WORKSPACE_ROUTES if r.method == "POST"}
    - {r.name for r in WORKSPACE_ROUTES if r.method == "GET"}
)


@pytest.mark.parametrize("name", POST_ONLY)
def test_it_refuses_get_on_post_only_routes(name: str, alice: Any, acme: Any) -> None:
    route = next(r for r in WORKSPACE_ROUTES if r.name == name)
    pk = OBJECTS[route.obj](acme, alice) if route.obj else None
    before = _state()

    response = client_for(alice).get(route.url(acme, pk))

    assert response.status_code == 405
    assert _state() == before


# -- the global routes ---------------------------------------------------------------------------


@pytest.mark.parametrize("route", [pytest.param(r, id=r.id) for r in GLOBAL_ROUTES])
def test_it_sends_anonymous_visitors_to_sign_in_outside_workspaces(
    route: GlobalRoute, db: Any
) -> None:
    url = route.url()

    response = _request(client_for(None), route.method, url, route.data)

    if route.public:
        assert response.status_code in route.answers
        if response.status_code == 302:
            assert response["Location"] == reverse("accounts:login")
    else:
        assert response.status_code == 302
        assert response["Location"] == f"{reverse('accounts:login')}?next={quote(url)}"


@pytest.mark.parametrize("route", [pytest.param(r, id=r.id) for r in GLOBAL_ROUTES])
def test_it_serves_global_routes_to_any_signed_in_user(
    route: GlobalRoute, vera: Any, mallory: Any
) -> None:
    response = _request(client_for(vera), route.method, route.url(vera), route.data)

    assert response.status_code in route.answers
    assert "/w/globex/" not in response.get("Location", "")


USER_OBJECT_ROUTES = [r for r in GLOBAL_ROUTES if r.obj is not None]


@pytest.mark.parametrize("route", [pytest.param(r, id=r.id) for r in USER_OBJECT_ROUTES])
def test_it_keeps_one_users_objects_from_another_outside_workspaces(
    route: GlobalRoute, vera: Any, mallory: Any
) -> None:
    """An invitation addressed to mallory: vera can neither see nor use it (nor its link)."""
    url = route.url(mallory)
    before = (_state(), Invitation.objects.pending().count())

    response = _request(client_for(vera), route.method, url, route.data)

    assert response.status_code == route.foreign
    assert (_state(), Invitation.objects.pending().count()) == before
    assert b"Inviting" not in response.content, "nothing about the other workspace shows"


# -- the table covers the resolver ---------------------------------------------------------------


def _registered_routes() -> list[tuple[str, str]]:
    """(route pattern, "namespace:name") of every URL pattern the project registers."""
    found: list[tuple[str, str]] = []

    def walk(patterns: list[Any], prefix: str, namespace: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                ns = namespace
                if pattern.namespace:
                    ns = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
                walk(pattern.url_patterns, prefix + str(pattern.pattern), ns)
            elif isinstance(pattern, URLPattern):
                name = f"{namespace}:{pattern.name}" if namespace else str(pattern.name)
                found.append((prefix + str(pattern.pattern), name))

    walk(get_resolver().url_patterns, "", "")
    return found


def test_it_has_a_row_for_every_workspace_route() -> None:
    registered = {
        name: route for route, name in _registered_routes() if route.startswith("w/<slug:slug>/")
    }
    tabled = {r.name for r in WORKSPACE_ROUTES}

    assert registered, "no workspace routes found: has the URL prefix changed?"
    assert sorted(set(registered) - tabled) == [], "add these routes to routes.WORKSPACE_ROUTES"
    assert sorted(tabled - set(registered)) == [], "routes.py names routes that do not exist"
    for row in WORKSPACE_ROUTES:
        addresses_object = "<int:pk>" in registered[row.name]
        assert addresses_object == (row.obj is not None), f"{row.id}: set obj= for <int:pk> routes"


def test_it_has_a_row_for_every_route_outside_workspaces() -> None:
    registered = {
        name
        for route, name in _registered_routes()
        if not route.startswith("w/") and not route.startswith(GLOBAL_PREFIXES_TESTED_ELSEWHERE)
    }

    assert sorted(registered - {r.name for r in GLOBAL_ROUTES}) == []


def test_it_derives_both_refusals_and_permissions_from_the_table() -> None:
    """Guard against a table where every expectation is the same (a matrix that cannot fail)."""
    answers = {expected_answer(r, v) for r in WORKSPACE_ROUTES for v in VISITORS}

    assert {SIGN_IN, 404, 403, 200, 302} <= answers
