"""Server lifecycle, CA handling, the tenant registry, scenario files and the command."""

from __future__ import annotations

import ipaddress
import stat
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from cryptography import x509
from django.core.management import CommandError, call_command

from tenantatlas.simulator.certs import make_test_certificate
from tenantatlas.simulator.management.commands import simulator as command_module
from tenantatlas.simulator.scenarios import (
    DEMO_SCENARIOS,
    Faults,
    ScenarioError,
    ThrottleFault,
    load_scenarios,
)
from tenantatlas.simulator.server import SimulatorServer, serve_forever
from tenantatlas.simulator.tests.helpers import CONTOSO, graph_get, new_tenant, token_for

PRIVATE_FILES = ("ca-key.pem", "server-key.pem", "signing-key.pem")


def test_it_writes_its_private_keys_owner_only(tmp_path):
    SimulatorServer(tmp_path / "state")
    for name in PRIVATE_FILES:
        mode = stat.S_IMODE((tmp_path / "state" / name).stat().st_mode)
        assert mode == 0o600, name


def test_it_reuses_its_ca_across_restarts(tmp_path):
    first = SimulatorServer(tmp_path)
    ca = first.ca_bundle.read_bytes()
    second = SimulatorServer(tmp_path)
    assert second.ca_bundle.read_bytes() == ca


def test_it_issues_a_server_certificate_for_loopback_names(simulator):
    cert = x509.load_pem_x509_certificate((simulator.state_dir / "server.pem").read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert ipaddress.IPv4Address("127.0.0.1") in names.get_values_for_type(x509.IPAddress)
    response = requests.get(
        f"https://localhost:{simulator.port}/{CONTOSO}/v2.0/.well-known/openid-configuration",
        verify=simulator.ca_bundle,
        timeout=10,
    )
    assert response.json()["token_endpoint"].startswith(f"https://localhost:{simulator.port}/")


def test_it_is_not_trusted_without_its_ca(simulator):
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{simulator.base_url}/v1.0/organization", verify=True, timeout=10)


def test_it_starts_on_a_free_port_and_stops(tmp_path):
    with SimulatorServer(tmp_path, [new_tenant()]) as server:
        assert server.base_url == f"https://127.0.0.1:{server.port}"
        assert server.port > 0
        url = f"{server.base_url}/v1.0/organization"
        assert requests.get(url, verify=server.ca_bundle, timeout=10).status_code == 401
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(url, verify=server.ca_bundle, timeout=2)


def test_it_replaces_a_tenant_added_twice(simulator):
    tenant = simulator.add_tenant(new_tenant(device_count=10))
    simulator.add_tenant(new_tenant(tenant_id=tenant.tenant_id, device_count=3))
    assert simulator.get_tenant(tenant.tenant_id).device_count == 3
    assert simulator.get_tenant(tenant.tenant_id.upper()) is not None


def test_it_keeps_its_own_copy_of_a_scenario(simulator):
    scenario = new_tenant(device_count=10)
    simulator.add_tenant(scenario)
    scenario.device_count = 999
    assert simulator.get_tenant(scenario.tenant_id).device_count == 10


def test_it_resets_to_the_scenario_file(simulator):
    added = simulator.add_tenant(new_tenant())
    simulator.add_tenant(new_tenant(tenant_id=CONTOSO, device_count=1))
    simulator.reset()
    assert simulator.get_tenant(added.tenant_id) is None
    assert simulator.get_tenant(CONTOSO).device_count == 5000
    assert simulator.requests == []


def test_it_clears_its_request_log(simulator):
    graph_get(simulator, None, "/v1.0/organization")
    assert simulator.requests
    simulator.clear_requests()
    assert simulator.requests == []


def test_it_counts_faults_exactly_under_concurrent_requests(simulator):
    tenant = simulator.add_tenant(new_tenant(faults=Faults(throttle=ThrottleFault(count=7))))
    token = token_for(simulator, tenant)
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(
            pool.map(
                lambda _: graph_get(simulator, token, "/v1.0/organization").status_code, range(24)
            )
        )
    assert statuses.count(429) == 7
    assert statuses.count(200) == 17


def test_it_loads_the_demo_scenarios():
    tenants = {t.display_name: t for t in load_scenarios(DEMO_SCENARIOS)}
    assert tenants["Contoso Ltd"].device_count == 5000
    assert tenants["Woodgrove Bank"].intune_licensed is False
    assert tenants["Litware Inc"].apps[0].roles == []
    assert tenants["Tailspin Toys"].apps[0].secrets[0].expires_at is not None
    assert tenants["Fabrikam Inc"].faults.throttle.count == 20


def test_it_reads_certificates_and_expiry_from_toml(tmp_path):
    _, cert = make_test_certificate("from-file")
    (tmp_path / "app.pem").write_text(cert)
    (tmp_path / "s.toml").write_text(
        textwrap.dedent(
            """
            [[tenants]]
            tenant_id = "11111111-1111-4111-8111-111111111111"
            display_name = "File"
            default_domain = "file.onmicrosoft.com"
              [[tenants.apps]]
              client_id = "22222222-2222-4222-8222-222222222222"
              certificate_files = ["app.pem"]
              secrets = [{ value = "s", expires_at = 2030-01-01 }]
              [tenants.faults]
              slow_seconds = 0.5
              [tenants.faults.throttle]
              count = 3
              retry_after = "http-date:5"
            """
        )
    )
    [tenant] = load_scenarios(tmp_path / "s.toml")
    assert tenant.apps[0].certificates == [cert]
    assert tenant.apps[0].secrets[0].expires_at.year == 2030
    assert tenant.faults.throttle.retry_after == "http-date:5"
    assert tenant.faults.slow_seconds == 0.5


def test_it_rejects_unknown_scenario_fields(tmp_path):
    (tmp_path / "bad.toml").write_text(
        '[[tenants]]\ntenant_id = "x"\ndisplay_name = "x"\ndefault_domain = "x.com"\ndevices = 5\n'
    )
    with pytest.raises(ScenarioError, match="devices"):
        load_scenarios(tmp_path / "bad.toml")


def test_it_refuses_a_missing_scenario_file_in_the_command(tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        call_command("simulator", "--scenarios", str(tmp_path / "nope.toml"), "--port", "0")


def test_it_refuses_a_bad_port_variable_in_the_command(monkeypatch):
    monkeypatch.setenv("TENANTATLAS_SIMULATOR_PORT", "eighty")
    with pytest.raises(CommandError, match="TENANTATLAS_SIMULATOR_PORT"):
        call_command("simulator")


def test_it_runs_standalone_until_stopped(tmp_path, capsys, monkeypatch):
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    stop = threading.Event()
    runner = threading.Thread(
        target=serve_forever, args=("127.0.0.1", 0, tmp_path, DEMO_SCENARIOS), kwargs={"stop": stop}
    )
    runner.start()
    try:
        deadline = time.monotonic() + 10
        while "CA bundle" not in (out := capsys.readouterr().out) and time.monotonic() < deadline:
            time.sleep(0.05)
        listening, ca_line = out.splitlines()[:2]
        base_url = listening.rsplit(" ", 1)[-1]
        assert base_url.startswith("https://127.0.0.1:")
        assert ca_line == f"CA bundle: {tmp_path / 'ca.pem'}"
        discovery = requests.get(
            f"{base_url}/{CONTOSO}/v2.0/.well-known/openid-configuration",
            verify=tmp_path / "ca.pem",
            timeout=10,
        )
        assert discovery.status_code == 200
    finally:
        stop.set()
        runner.join(timeout=10)
    assert not runner.is_alive()


def test_it_passes_command_options_to_the_server(tmp_path, monkeypatch, settings):
    calls = []
    monkeypatch.setattr(command_module, "serve_forever", lambda *args: calls.append(args))
    monkeypatch.setenv("TENANTATLAS_SIMULATOR_PORT", "9443")
    settings.DATA_DIR = tmp_path
    call_command("simulator")
    call_command("simulator", "--port", "8444", "--state-dir", str(tmp_path / "s"))
    assert calls == [
        ("127.0.0.1", 9443, tmp_path / "simulator", DEMO_SCENARIOS),
        ("127.0.0.1", 8444, tmp_path / "s", DEMO_SCENARIOS),
    ]
