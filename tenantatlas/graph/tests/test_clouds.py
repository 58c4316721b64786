"""Cloud presets: endpoints, resource identifiers and TLS trust are configuration."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import certifi
import pytest

from tenantatlas.graph.clouds import (
    GLOBAL_GRAPH_RESOURCE,
    InvalidCloudEndpoint,
    UnknownCloud,
    check_cloud_configuration,
    cloud_choices,
    endpoint_url,
    get_cloud,
    tls_verify,
)
from tenantatlas.graph.tests.simulated import ALL_ROLES, Setup, connect
from tenantatlas.simulator.server import SimulatorServer


@pytest.mark.parametrize(
    ("name", "authority", "graph", "resource"),
    [
        ("global", "login.microsoftonline.com", "graph.microsoft.com", "graph.microsoft.com"),
        ("usgov_high", "login.microsoftonline.us", "graph.microsoft.us", "graph.microsoft.us"),
        (
            "usgov_dod",
            "login.microsoftonline.us",
            "dod-graph.microsoft.us",
            "dod-graph.microsoft.us",
        ),
        (
            "china",
            "login.chinacloudapi.cn",
            "microsoftgraph.chinacloudapi.cn",
            "microsoftgraph.chinacloudapi.cn",
        ),
    ],
)
def test_presets(name: str, authority: str, graph: str, resource: str) -> None:
    cloud = get_cloud(name)
    assert cloud.authority_host == f"https://{authority}"
    assert cloud.graph_base_url == f"https://{graph}"
    assert cloud.scope == f"https://{resource}/.default"
    assert cloud.authority("t1") == f"https://{authority}/t1"


def test_simulator_exists_only_when_configured(settings) -> None:
    settings.SIMULATOR_URL = ""
    assert "simulator" not in dict(cloud_choices())
    with pytest.raises(UnknownCloud, match="simulator"):
        get_cloud("simulator")
    settings.SIMULATOR_URL = "https://127.0.0.1:8443/"
    settings.SIMULATOR_CA_BUNDLE = "/tmp/sim-ca.pem"
    cloud = get_cloud("simulator")
    assert cloud.authority_host == cloud.graph_base_url == "https://127.0.0.1:8443"
    # The token audience stays Graph's: never derived from the endpoint address.
    assert cloud.scope == "https://graph.microsoft.com/.default"
    assert cloud.ca_bundle == "/tmp/sim-ca.pem"
    assert "simulator" in dict(cloud_choices())


def test_unknown_cloud_is_a_clear_error() -> None:
    with pytest.raises(UnknownCloud, match=r"'mars'.*global"):
        get_cloud("mars")


def test_extra_ca_bundle_adds_to_every_cloud(settings, tmp_path: Path) -> None:
    settings.EXTRA_CA_BUNDLE = ""
    assert tls_verify(get_cloud("global")) is True
    extra = tmp_path / "proxy-ca.pem"
    extra.write_text("-----BEGIN CERTIFICATE-----\nPROXY\n-----END CERTIFICATE-----\n")
    settings.EXTRA_CA_BUNDLE = str(extra)
    combined = Path(str(tls_verify(get_cloud("global")))).read_text()
    assert "PROXY" in combined
    assert Path(certifi.where()).read_text()[:200] in combined
    sim_ca = tmp_path / "sim.pem"
    sim_ca.write_text("SIMCA\n")
    settings.SIMULATOR_URL = "https://127.0.0.1:1"
    settings.SIMULATOR_CA_BUNDLE = str(sim_ca)
    combined = Path(str(tls_verify(get_cloud("simulator")))).read_text()
    assert combined.startswith("SIMCA")
    assert "PROXY" in combined


def _old_shared_path(pem: str) -> Path:
    """Where earlier releases kept the combined bundle: a name anyone could predict."""
    digest = hashlib.sha256(pem.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"tenantatlas-ca-{digest}.pem"


@pytest.fixture
def proxy_ca(settings, tmp_path: Path) -> str:
    """A TLS-inspecting proxy's CA as TENANTATLAS_CA_BUNDLE, and a private data directory."""
    settings.DATA_DIR = tmp_path / "var"
    extra = tmp_path / "proxy-ca.pem"
    extra.write_text("-----BEGIN CERTIFICATE-----\nPROXY\n-----END CERTIFICATE-----\n")
    settings.EXTRA_CA_BUNDLE = str(extra)
    return Path(certifi.where()).read_text() + "\n" + extra.read_text()


def test_it_never_uses_a_bundle_planted_at_a_shared_path(proxy_ca: str) -> None:
    planted = _old_shared_path(proxy_ca)
    planted.write_text("-----BEGIN CERTIFICATE-----\nPLANTED\n-----END CERTIFICATE-----\n")
    try:
        used = Path(str(tls_verify(get_cloud("global"))))
    finally:
        planted.unlink()

    assert used != planted
    assert used.read_text() == proxy_ca
    assert stat.S_IMODE(used.stat().st_mode) == 0o600
    assert stat.S_IMODE(used.parent.stat().st_mode) == 0o700


def test_it_rewrites_a_bundle_whose_content_was_changed(proxy_ca: str) -> None:
    first = Path(str(tls_verify(get_cloud("global"))))
    first.write_text("-----BEGIN CERTIFICATE-----\nPLANTED\n-----END CERTIFICATE-----\n")

    again = Path(str(tls_verify(get_cloud("global"))))

    assert again.read_text() == proxy_ca
    assert "PLANTED" not in again.read_text()


def test_it_keeps_the_bundle_in_a_private_temporary_directory_without_a_data_directory(
    settings, proxy_ca: str, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    settings.DATA_DIR = blocker / "var"  # cannot be created

    used = Path(str(tls_verify(get_cloud("global"))))

    assert used.read_text() == proxy_ca
    assert used != _old_shared_path(proxy_ca)
    assert used.parent.name.startswith("tenantatlas-tls-")
    assert stat.S_IMODE(used.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(used.stat().st_mode) == 0o600


# -- a custom endpoint pair ---------------------------------------------------------------


@pytest.fixture
def no_custom_pair(settings) -> None:
    settings.CUSTOM_AUTHORITY_HOST = ""
    settings.CUSTOM_GRAPH_BASE_URL = ""
    settings.CUSTOM_GRAPH_RESOURCE = GLOBAL_GRAPH_RESOURCE


def test_it_offers_the_custom_cloud_only_when_configured(settings, no_custom_pair: None) -> None:
    assert "custom" not in dict(cloud_choices())
    with pytest.raises(UnknownCloud, match="custom"):
        get_cloud("custom")

    settings.CUSTOM_AUTHORITY_HOST = "https://login.sovereign.example/"
    settings.CUSTOM_GRAPH_BASE_URL = "https://graph-proxy.corp.example/msgraph/"
    cloud = get_cloud("custom")

    assert cloud.authority_host == "https://login.sovereign.example"
    assert cloud.authority("t1") == "https://login.sovereign.example/t1"
    assert cloud.graph_base_url == "https://graph-proxy.corp.example/msgraph"
    # The token audience is its own setting, never derived from the Graph address.
    assert cloud.scope == "https://graph.microsoft.com/.default"
    assert cloud.ca_bundle is None  # public CAs plus TENANTATLAS_CA_BUNDLE, like every cloud
    assert "login.sovereign.example" in dict(cloud_choices())["custom"]


def test_it_takes_the_graph_resource_of_the_custom_pair_from_its_own_setting(
    settings, no_custom_pair: None
) -> None:
    settings.CUSTOM_AUTHORITY_HOST = "https://login.microsoftonline.us"
    settings.CUSTOM_GRAPH_BASE_URL = "https://graph-inspect.corp.example"
    settings.CUSTOM_GRAPH_RESOURCE = "https://graph.microsoft.us"

    assert get_cloud("custom").scope == "https://graph.microsoft.us/.default"


def test_it_reads_the_custom_pair_from_the_environment(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TENANTATLAS_AUTHORITY_HOST", "https://login.sovereign.example")
    monkeypatch.setenv("TENANTATLAS_GRAPH_BASE_URL", "https://graph.sovereign.example")
    monkeypatch.setenv("TENANTATLAS_GRAPH_RESOURCE", "https://graph.sovereign.example")
    monkeypatch.setenv("TENANTATLAS_CLOUD", "custom")

    values = _settings_module_values(
        "CUSTOM_AUTHORITY_HOST", "CUSTOM_GRAPH_BASE_URL", "CUSTOM_GRAPH_RESOURCE", "CLOUD_DEFAULT"
    )

    assert values == [
        "https://login.sovereign.example",
        "https://graph.sovereign.example",
        "https://graph.sovereign.example",
        "custom",
    ]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("http://login.sovereign.example", "https"),
        ("login.sovereign.example", "https"),
        ("https://", "host"),
        ("https://user:pw@login.sovereign.example", "user name or password"),
        ("https://login.sovereign.example/?x=1", "query"),
        ("https://login.sovereign.example/#frag", "fragment"),
        ("https://login sovereign.example", "host"),
    ],
)
def test_it_refuses_an_endpoint_that_is_not_a_plain_https_url(value: str, problem: str) -> None:
    with pytest.raises(InvalidCloudEndpoint, match=rf"TENANTATLAS_GRAPH_BASE_URL.*{problem}"):
        endpoint_url("TENANTATLAS_GRAPH_BASE_URL", value)


@pytest.mark.parametrize(
    ("authority", "graph", "problem"),
    [
        ("https://login.sovereign.example", "", "TENANTATLAS_GRAPH_BASE_URL is not"),
        ("", "https://graph.sovereign.example", "TENANTATLAS_AUTHORITY_HOST is not"),
        ("http://login.sovereign.example", "https://graph.sovereign.example", "https"),
    ],
)
def test_it_refuses_half_or_invalid_custom_pairs(
    settings, no_custom_pair: None, authority: str, graph: str, problem: str
) -> None:
    settings.CUSTOM_AUTHORITY_HOST = authority
    settings.CUSTOM_GRAPH_BASE_URL = graph

    with pytest.raises(InvalidCloudEndpoint, match=problem):
        get_cloud("global")
    assert [message.id for message in check_cloud_configuration()] == ["graph.E002"]


def test_it_reports_an_unknown_default_cloud_in_the_system_check(
    settings, no_custom_pair: None
) -> None:
    settings.CLOUD_DEFAULT = "custom"  # but no custom pair is configured

    (problem,) = check_cloud_configuration()

    assert problem.id == "graph.E003"
    assert "TENANTATLAS_CLOUD" in problem.msg


def test_it_refuses_to_start_with_a_plain_http_graph_address(tmp_path: Path) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TENANTATLAS_", "DJANGO_", "DATABASE_URL"))
    }
    env.update(
        TENANTATLAS_DATA_DIR=str(tmp_path / "var"),
        TENANTATLAS_AUTHORITY_HOST="https://login.sovereign.example",
        TENANTATLAS_GRAPH_BASE_URL="http://graph.sovereign.example",
    )

    result = subprocess.run(
        [str(Path(sys.executable).parent / "tenantatlas"), "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode != 0
    assert "TENANTATLAS_GRAPH_BASE_URL" in result.stderr
    assert "https" in result.stderr


def test_it_talks_to_the_simulator_configured_as_a_custom_pair(
    settings, simulator: SimulatorServer, tmp_path: Path
) -> None:
    settings.SIMULATOR_URL = ""  # not the simulator preset: only the custom pair
    settings.DATA_DIR = tmp_path / "var"
    settings.CUSTOM_AUTHORITY_HOST = simulator.base_url
    settings.CUSTOM_GRAPH_BASE_URL = simulator.base_url
    settings.CUSTOM_GRAPH_RESOURCE = GLOBAL_GRAPH_RESOURCE
    settings.EXTRA_CA_BUNDLE = str(simulator.ca_bundle)  # e.g. a TLS-inspecting proxy's CA
    setup = Setup()

    run = connect(simulator, setup, cloud=get_cloud("custom"))
    organization = run.client.get("organization.get")

    assert run.provider.get_token().roles == ALL_ROLES
    assert organization["value"][0]["id"] == setup.tenant_id


def _settings_module_values(*names: str) -> list[str]:
    """Import the settings module afresh (as a new process would) and read some values."""
    import importlib.util

    spec = importlib.util.find_spec("tenantatlas.settings")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return [getattr(module, name) for name in names]
