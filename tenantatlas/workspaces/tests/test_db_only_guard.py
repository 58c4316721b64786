"""The DB-only render guard (tenantatlas.testing) can fail a test.

Every page test runs under it; these tests prove it notices a view that opens a network
connection, to the internet or to a local service that is not the database, and that it leaves
background code (outside requests) alone.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.urls import path

from tenantatlas.testing import OutboundConnectionDuringRender, client_for


@pytest.fixture
def listener() -> Iterator[tuple[str, int]]:
    """A local TCP service that is not the database (like the simulator or a Graph proxy)."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen()
    yield server.getsockname()
    server.close()


def _calls_out(request: HttpRequest) -> HttpResponse:
    host, port = request.GET["host"], int(request.GET["port"])
    with socket.create_connection((host, port), timeout=1):
        pass
    return HttpResponse("called out")


urlpatterns = [path("calls-out/", _calls_out)]


@pytest.mark.urls(__name__)
def test_it_fails_a_page_that_calls_the_internet(alice: Any, db_only_guard: list[str]) -> None:
    with pytest.raises(
        OutboundConnectionDuringRender, match=re.escape("192.0.2.10:443 during /calls-out/")
    ):
        client_for(alice).get("/calls-out/", {"host": "192.0.2.10", "port": "443"})

    assert db_only_guard == ["outbound connection to 192.0.2.10:443 during /calls-out/"]
    db_only_guard.clear()  # expected here; any other test with a violation fails at teardown


@pytest.mark.urls(__name__)
def test_it_fails_a_page_that_calls_a_local_service(
    alice: Any, listener: tuple[str, int], db_only_guard: list[str]
) -> None:
    host, port = listener

    with pytest.raises(OutboundConnectionDuringRender):
        client_for(alice).get("/calls-out/", {"host": host, "port": str(port)})

    assert db_only_guard == [f"outbound connection to {host}:{port} during /calls-out/"]
    db_only_guard.clear()


def test_it_lets_background_code_connect(
    listener: tuple[str, int], db_only_guard: list[str]
) -> None:
    with socket.create_connection(listener, timeout=1) as connection:
        assert connection.getpeername() == listener

    assert db_only_guard == []
