"""Microsoft cloud endpoint presets: where to get tokens, where Graph lives, what to trust.

The Graph *resource identifier* (the token audience, used for the ``/.default`` scope) is its own
field and never derived from the Graph base URL: a simulator or proxy at another address still
issues tokens for ``https://graph.microsoft.com``. The simulator is just another preset, so no
code path differs between it and Microsoft.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

import certifi
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from tenantatlas.lib.private_files import make_private_dir, write_private_file


@dataclass(frozen=True)
class Cloud:
    """One Microsoft cloud (or stand-in): identity authority, Graph endpoint and TLS trust."""

    name: str
    label: str
    authority_host: str
    graph_base_url: str
    graph_resource: str
    ca_bundle: str | None = None

    @property
    def scope(self) -> str:
        """The client-credentials scope: all application permissions of the Graph resource."""
        return f"{self.graph_resource.rstrip('/')}/.default"

    def authority(self, tenant_id: str) -> str:
        return f"{self.authority_host.rstrip('/')}/{tenant_id}"


class UnknownCloud(ImproperlyConfigured):
    """A connection or setting names a cloud that is not configured here."""


_PRESETS: tuple[Cloud, ...] = (
    Cloud(
        "global",
        "Microsoft global cloud",
        "https://login.microsoftonline.com",
        "https://graph.microsoft.com",
        "https://graph.microsoft.com",
    ),
    Cloud(
        "usgov_high",
        "US Government (GCC High)",
        "https://login.microsoftonline.us",
        "https://graph.microsoft.us",
        "https://graph.microsoft.us",
    ),
    Cloud(
        "usgov_dod",
        "US Government (DoD)",
        "https://login.microsoftonline.us",
        "https://dod-graph.microsoft.us",
        "https://dod-graph.microsoft.us",
    ),
    Cloud(
        "china",
        "Microsoft Azure operated by 21Vianet (China)",
        "https://login.chinacloudapi.cn",
        "https://microsoftgraph.chinacloudapi.cn",
        "https://microsoftgraph.chinacloudapi.cn",
    ),
)


def _clouds() -> dict[str, Cloud]:
    # Built per call so tests (and the simulator command) can change SIMULATOR_URL at runtime.
    clouds = {cloud.name: cloud for cloud in _PRESETS}
    simulator_url = (getattr(settings, "SIMULATOR_URL", "") or "").rstrip("/")
    if simulator_url:
        clouds["simulator"] = Cloud(
            "simulator",
            "TenantAtlas simulator",
            simulator_url,
            simulator_url,
            "https://graph.microsoft.com",
            getattr(settings, "SIMULATOR_CA_BUNDLE", None) or None,
        )
    return clouds


def get_cloud(name: str) -> Cloud:
    """The cloud called ``name``; an unknown name is a configuration error, said clearly."""
    clouds = _clouds()
    try:
        return clouds[name]
    except KeyError:
        raise UnknownCloud(
            f"Unknown Microsoft cloud {name!r}; configured clouds: {', '.join(sorted(clouds))}"
        ) from None


def cloud_choices() -> list[tuple[str, str]]:
    """(name, label) pairs for forms."""
    return [(cloud.name, cloud.label) for cloud in _clouds().values()]


def tls_verify(cloud: Cloud) -> str | bool:
    """The ``verify`` value for requests: the cloud's own CA bundle and EXTRA_CA_BUNDLE.

    ``EXTRA_CA_BUNDLE`` (e.g. a TLS-inspecting proxy's CA) adds to the trust of every cloud;
    since requests takes a single file, the base trust and the extra one are concatenated into
    a file of this process's user (:func:`_private_bundle`).
    """
    extra = getattr(settings, "EXTRA_CA_BUNDLE", "") or ""
    if not extra:
        return cloud.ca_bundle or True
    base = cloud.ca_bundle or certifi.where()
    pem = Path(base).read_text() + "\n" + Path(extra).read_text()
    return str(_private_bundle(pem))


_fallback_dir: Path | None = None


def _is_private_dir(directory: Path) -> bool:
    status = directory.lstat()
    return (
        stat.S_ISDIR(status.st_mode)
        and status.st_uid == os.geteuid()
        and not stat.S_IMODE(status.st_mode) & 0o077
    )


def _bundle_dir() -> Path:
    """``DATA_DIR/tls`` (0700) or, where that cannot be written, a private temporary directory.

    Never a shared, predictable path: whoever can write the trust file decides which servers
    receive the client secret.
    """
    global _fallback_dir
    try:
        directory = make_private_dir(Path(settings.DATA_DIR) / "tls")
        if _is_private_dir(directory) and os.access(directory, os.W_OK):
            return directory
    except OSError:
        pass
    if _fallback_dir is None or not _fallback_dir.is_dir():
        _fallback_dir = Path(tempfile.mkdtemp(prefix="tenantatlas-tls-"))  # 0700, unguessable
        atexit.register(shutil.rmtree, _fallback_dir, ignore_errors=True)
    return _fallback_dir


def _private_bundle(pem: str) -> Path:
    """The combined bundle as a 0600 file with exactly ``pem``, rewritten whenever it differs."""
    digest = hashlib.sha256(pem.encode()).hexdigest()[:16]
    path = _bundle_dir() / f"ca-{digest}.pem"
    try:
        current = path.read_text()
    except (OSError, UnicodeDecodeError):
        current = None
    if current != pem:
        write_private_file(path, pem)  # temp file + atomic rename: readers never see half
    return path
