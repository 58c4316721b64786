"""Microsoft cloud endpoint presets: where to get tokens, where Graph lives, what to trust.

The Graph *resource identifier* (the token audience, used for the ``/.default`` scope) is its own
field and never derived from the Graph base URL: a simulator or proxy at another address still
issues tokens for ``https://graph.microsoft.com``.

Besides the named presets, two clouds come from configuration through one constructor
(:func:`endpoint_cloud`): ``custom`` (``TENANTATLAS_AUTHORITY_HOST`` + ``TENANTATLAS_GRAPH_BASE_URL``
+ ``TENANTATLAS_GRAPH_RESOURCE``: national or private deployments, TLS-inspecting proxies,
independent test doubles) and ``simulator`` (``TENANTATLAS_SIMULATOR_URL``, the bundled stand-in).
No code path differs between them and Microsoft.
"""

from __future__ import annotations

import atexit
import dataclasses
import hashlib
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import certifi
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from tenantatlas.lib.private_files import make_private_dir, write_private_file


@dataclasses.dataclass(frozen=True)
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


class InvalidCloudEndpoint(ImproperlyConfigured):
    """A configured endpoint (authority host, Graph base URL, resource) is not usable."""


GLOBAL_GRAPH_RESOURCE = "https://graph.microsoft.com"


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


def endpoint_url(variable: str, value: str) -> str:
    """``value`` as a plain HTTPS URL without a trailing slash; else an error naming ``variable``.

    Credentials and tokens travel to these addresses, so nothing but HTTPS to a named host is
    accepted: no plain HTTP, no user name or password, query or fragment to smuggle along.
    """
    text = value.strip()
    problem = _endpoint_problem(text)
    if problem:
        raise InvalidCloudEndpoint(f"{variable}={value!r} {problem} (e.g. https://host.example).")
    return text.rstrip("/")


def _endpoint_problem(text: str) -> str:
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return "is not a valid URL"
    if parts.scheme != "https":
        return "must start with https://"
    if not parts.hostname or any(character.isspace() for character in parts.netloc):
        return "has no valid host name"
    if parts.username is not None or parts.password is not None:
        return "must not contain a user name or password"
    if parts.query:
        return "must not have a query"
    if parts.fragment:
        return "must not have a fragment"
    return ""


def endpoint_cloud(
    name: str,
    label: str,
    *,
    authority_host: tuple[str, str],
    graph_base_url: tuple[str, str],
    graph_resource: tuple[str, str],
    ca_bundle: str | None = None,
) -> Cloud:
    """A cloud defined by configuration: each endpoint given as (variable, value), validated."""
    return Cloud(
        name,
        label,
        endpoint_url(*authority_host),
        endpoint_url(*graph_base_url),
        endpoint_url(*graph_resource),
        ca_bundle or None,
    )


def custom_cloud(authority: str, graph: str, resource: str = "") -> Cloud | None:
    """The ``custom`` cloud of TENANTATLAS_AUTHORITY_HOST/_GRAPH_BASE_URL/_GRAPH_RESOURCE."""
    if not authority and not graph:
        return None
    for variable, value in (
        ("TENANTATLAS_AUTHORITY_HOST", authority),
        ("TENANTATLAS_GRAPH_BASE_URL", graph),
    ):
        if not value:
            raise InvalidCloudEndpoint(
                f"{variable} is not set: a custom endpoint pair needs TENANTATLAS_AUTHORITY_HOST "
                "and TENANTATLAS_GRAPH_BASE_URL both (or neither)."
            )
    cloud = endpoint_cloud(
        "custom",
        "Custom endpoints",
        authority_host=("TENANTATLAS_AUTHORITY_HOST", authority),
        graph_base_url=("TENANTATLAS_GRAPH_BASE_URL", graph),
        graph_resource=("TENANTATLAS_GRAPH_RESOURCE", resource or GLOBAL_GRAPH_RESOURCE),
    )
    hosts = f"{urlsplit(cloud.authority_host).netloc} / {urlsplit(cloud.graph_base_url).netloc}"
    return dataclasses.replace(cloud, label=f"Custom endpoints ({hosts})")


def simulator_cloud(url: str, ca_bundle: str | None = None) -> Cloud | None:
    """The ``simulator`` cloud: the bundled stand-in as one more endpoint pair."""
    if not url:
        return None
    return endpoint_cloud(
        "simulator",
        "TenantAtlas simulator",
        authority_host=("TENANTATLAS_SIMULATOR_URL", url),
        graph_base_url=("TENANTATLAS_SIMULATOR_URL", url),
        graph_resource=("TENANTATLAS_SIMULATOR_URL", GLOBAL_GRAPH_RESOURCE),
        ca_bundle=ca_bundle,
    )


def _clouds() -> dict[str, Cloud]:
    # Built per call so tests (and the serve command) can change the settings at runtime.
    clouds = {cloud.name: cloud for cloud in _PRESETS}
    configured_clouds = (
        custom_cloud(
            getattr(settings, "CUSTOM_AUTHORITY_HOST", "") or "",
            getattr(settings, "CUSTOM_GRAPH_BASE_URL", "") or "",
            getattr(settings, "CUSTOM_GRAPH_RESOURCE", "") or "",
        ),
        simulator_cloud(
            getattr(settings, "SIMULATOR_URL", "") or "",
            getattr(settings, "SIMULATOR_CA_BUNDLE", None),
        ),
    )
    for configured in configured_clouds:
        if configured is not None:
            clouds[configured.name] = configured
    return clouds


def check_cloud_configuration(**kwargs: Any) -> list[checks.CheckMessage]:
    """System check: the configured endpoints are valid and TENANTATLAS_CLOUD names a cloud."""
    try:
        clouds = _clouds()
    except InvalidCloudEndpoint as exc:
        return [checks.Error(str(exc), id="graph.E002", obj="tenantatlas.graph.clouds")]
    default = getattr(settings, "CLOUD_DEFAULT", "global")
    if default not in clouds:
        return [
            checks.Error(
                f"TENANTATLAS_CLOUD={default!r} is not a configured cloud; "
                f"use one of: {', '.join(sorted(clouds))}.",
                id="graph.E003",
                obj="tenantatlas.graph.clouds",
            )
        ]
    return []


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
