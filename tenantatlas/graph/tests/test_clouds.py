"""Cloud presets: endpoints, resource identifiers and TLS trust are configuration."""

from __future__ import annotations

import hashlib
import stat
import tempfile
from pathlib import Path

import certifi
import pytest

from tenantatlas.graph.clouds import UnknownCloud, cloud_choices, get_cloud, tls_verify


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
