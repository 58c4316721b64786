"""Shared pytest fixtures: the named cast, clients, and the DB-only render guard.

The cast: alice (owner), maggie (manager), bob (operator), vera (readonly) of Acme;
mallory owns Globex and is an outsider to Acme.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tenantatlas.lib.actors import Actor
from tenantatlas.workspaces.models import Membership, Role, Workspace

PASSWORD = "correct-horse-battery-staple"


class OutboundConnectionDuringRender(AssertionError):
    """A page, poll or API read tried to open a network connection."""


_render = threading.local()
_violations: list[str] = []
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _allowed_addresses() -> set[tuple[str, int]]:
    allowed: set[tuple[str, int]] = set()
    db = settings.DATABASES["default"]
    if db.get("HOST"):
        host = db["HOST"]
        port = int(db.get("PORT") or 5432)
        allowed |= (
            {(host, port), ("127.0.0.1", port), ("::1", port)}
            if host in {"localhost", "127.0.0.1"}
            else {(host, port)}
        )
    redis = urlparse(settings.REDIS_URL)
    if redis.hostname:
        allowed |= {(redis.hostname, redis.port or 6379), ("127.0.0.1", redis.port or 6379)}
    return allowed


def _check(sock: socket.socket, address: Any) -> None:
    if not getattr(_render, "active", False):
        return
    if sock.family == socket.AF_UNIX:
        return
    host, port = address[0], int(address[1])
    if (host, port) in _allowed_addresses():
        return
    message = f"outbound connection to {host}:{port} during {getattr(_render, 'path', '?')}"
    _violations.append(message)
    raise OutboundConnectionDuringRender(message)


def _guarded_connect(self: socket.socket, address: Any) -> None:
    _check(self, address)
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    _check(self, address)
    return _real_connect_ex(self, address)


def _reaches_microsoft(path: str) -> bool:
    """Sign in with Microsoft's start and callback views must talk to Microsoft while the
    browser waits (discovery, the code, the keys): they are marked ``reaches_microsoft``."""
    from django.urls import Resolver404, resolve

    try:
        return bool(getattr(resolve(path).func, "reaches_microsoft", False))
    except Resolver404:
        return False


def _on_request_started(sender: Any, environ: dict[str, Any] | None = None, **kwargs: Any) -> None:
    _render.path = (environ or {}).get("PATH_INFO", "?")
    _render.active = not _reaches_microsoft(_render.path)


def _on_request_finished(sender: Any, **kwargs: Any) -> None:
    _render.active = False


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing() -> Iterator[None]:
    """Real hashing costs ~0.3 s per user; tests create thousands of users."""
    from django.test.utils import override_settings

    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(autouse=True, scope="session")
def _db_only_guard_installed() -> Iterator[None]:
    """Every request handled by Django (test client or live server) is DB-only."""
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign,assignment]
    request_started.connect(_on_request_started, dispatch_uid="db-only-guard-start")
    request_finished.connect(_on_request_finished, dispatch_uid="db-only-guard-finish")
    yield
    request_started.disconnect(dispatch_uid="db-only-guard-start")
    request_finished.disconnect(dispatch_uid="db-only-guard-finish")
    socket.socket.connect = _real_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _real_connect_ex  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def db_only_guard() -> Iterator[list[str]]:
    """Fails the test if any request it made opened an outbound connection."""
    _violations.clear()
    yield _violations
    found = list(_violations)
    _violations.clear()
    if found:
        pytest.fail("DB-only render violated: " + "; ".join(found))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test marked ``one_pass`` uses no database at all (a linter, the simulator alone, Graph
    paging against it): its outcome is the same on either database, so only the SQLite pass
    runs it, and the PostgreSQL pass spends its time on what PostgreSQL can change."""
    if connection.vendor != "postgresql":
        return
    skip = pytest.mark.skip(reason="uses no database: the SQLite pass runs it")
    for item in items:
        if item.get_closest_marker("one_pass") is not None:
            item.add_marker(skip)


def make_user(username: str, **extra: Any) -> Any:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user(
        username=username, email=f"{username}@example.test", password=PASSWORD, **extra
    )


@pytest.fixture
def acme(db: Any) -> Workspace:
    return Workspace.objects.create(name="Acme IT", slug="acme")


@pytest.fixture
def globex(db: Any) -> Workspace:
    return Workspace.objects.create(name="Globex", slug="globex")


def _member(workspace: Workspace, username: str, role: str) -> Any:
    user = make_user(username)
    Membership.objects.create(workspace=workspace, user=user, role=role)
    return user


@pytest.fixture
def alice(acme: Workspace) -> Any:
    return _member(acme, "alice", Role.OWNER)


@pytest.fixture
def maggie(acme: Workspace) -> Any:
    return _member(acme, "maggie", Role.MANAGER)


@pytest.fixture
def bob(acme: Workspace) -> Any:
    return _member(acme, "bob", Role.OPERATOR)


@pytest.fixture
def vera(acme: Workspace) -> Any:
    return _member(acme, "vera", Role.READONLY)


@pytest.fixture
def mallory(globex: Workspace) -> Any:
    return _member(globex, "mallory", Role.OWNER)


@pytest.fixture
def cast(alice: Any, maggie: Any, bob: Any, vera: Any, mallory: Any) -> dict[str, Any]:
    return {"alice": alice, "maggie": maggie, "bob": bob, "vera": vera, "mallory": mallory}


def client_for(user: Any | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def page_queries(client: Client, url: str) -> int:
    """How many queries a second GET of `url` makes (it must answer 200)."""
    # Steady state: the first page of a visit also notes the workspace as last used.
    client.get(url)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


KNOWN_SECRET = "Kx8Q~canary-secret-value-7b1d0c2e9f"


def make_connection(
    workspace: Workspace,
    actor: Actor,
    *,
    name: str = "Contoso",
    entra_tenant_id: str = "11111111-2222-3333-4444-555555555555",
    client_id: str = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
    secret: str = KNOWN_SECRET,
    cloud: str = "global",
) -> Any:
    from tenantatlas.providers.credential_input import SecretInput
    from tenantatlas.providers.services.connections import create_connection

    return create_connection(
        actor=actor,
        workspace=workspace,
        display_name=name,
        entra_tenant_id=entra_tenant_id,
        cloud=cloud,
        credential=SecretInput(client_id=client_id, client_secret=secret),
    )


@pytest.fixture
def sim(simulator: Any, settings: Any) -> Any:
    """The simulator as the `simulator` cloud: connections with cloud="simulator" talk to it."""
    settings.SIMULATOR_URL = simulator.base_url
    settings.SIMULATOR_CA_BUNDLE = str(simulator.ca_bundle)
    return simulator


DEMO_CLIENT_ID = "0b5e2c4d-9a1f-4e3b-8c7d-6f5a4b3c2d1e"


def make_sim_connection(
    workspace: Workspace, actor: Actor, tenant_id: str, secret: str, name: str = ""
) -> Any:
    return make_connection(
        workspace,
        actor,
        name=name or f"Tenant {tenant_id[:8]}",
        entra_tenant_id=tenant_id,
        client_id=DEMO_CLIENT_ID,
        secret=secret,
        cloud="simulator",
    )
