"""pytest plugin: a real simulator for the whole test session, reset after each test.

Enabled from the repository's ``conftest.py`` (``pytest_plugins``). The session server loads the
shipped demo scenarios; tests add their own tenants with ``simulator.add_tenant(...)`` and
the ``simulator`` fixture puts everything back afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tenantatlas.simulator.scenarios import DEMO_SCENARIOS
from tenantatlas.simulator.server import SimulatorServer
from tenantatlas.simulator.teams import Workflow

# requests lets these variables override a Session's ``verify`` (MSAL's ``verify=`` sets
# exactly that), which would make clients distrust the simulator's CA during tests.
_CA_OVERRIDING_ENV = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


@pytest.fixture(scope="session")
def simulator_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorServer]:
    """One HTTPS simulator on a free loopback port for the test session."""
    server = SimulatorServer(tmp_path_factory.mktemp("simulator"), DEMO_SCENARIOS)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def simulator(
    simulator_server: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SimulatorServer]:
    """The session simulator, restored to the demo scenarios after the test."""
    for name in _CA_OVERRIDING_ENV:
        monkeypatch.delenv(name, raising=False)
    simulator_server.clear_requests()
    try:
        yield simulator_server
    finally:
        simulator_server.reset()


@pytest.fixture
def teams_workflow(simulator: SimulatorServer) -> Workflow:
    """A new Teams Workflows webhook on the session simulator (its reset removes it)."""
    return simulator.teams.add_workflow()
