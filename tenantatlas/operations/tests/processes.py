"""Helpers for tests that run real worker processes against the test database.

A subprocess sees the test database through ``DATABASE_URL`` naming it directly (the
SQLite test file or the per-process PostgreSQL test database), the same encryption keys,
and the session simulator as its ``simulator`` cloud.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.db import connection

MANAGE_PY = Path(settings.BASE_DIR) / "manage.py"


def test_database_url() -> str:
    """A DATABASE_URL that points a subprocess at the database this test is using."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    user = quote(db.get("USER") or "", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    credentials = f"{user}{password}@" if user else ""
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{credentials}{db.get('HOST') or '127.0.0.1'}{port}/{db['NAME']}"


def subprocess_env(simulator: Any = None, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TENANTATLAS_", "DJANGO_"))
        and key not in {"DATABASE_URL", "REDIS_URL"}
    }
    env.update(
        DATABASE_URL=test_database_url(),
        DJANGO_SETTINGS_MODULE="tenantatlas.settings",
        TENANTATLAS_DATA_DIR=str(settings.DATA_DIR),
        TENANTATLAS_ENCRYPTION_KEYS=",".join(settings.ENCRYPTION_KEYS),
        SECRET_KEY=settings.SECRET_KEY,
        PYTHONUNBUFFERED="1",
    )
    if simulator is not None:
        env["TENANTATLAS_SIMULATOR_URL"] = simulator.base_url
        env["TENANTATLAS_SIMULATOR_CA_BUNDLE"] = str(simulator.ca_bundle)
    env.update(extra)
    return env


def manage(*args: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start `manage.py <args>`; its output goes to a temporary file (a pipe could fill up)."""
    output = tempfile.TemporaryFile()  # noqa: SIM115 - closed by output_of()
    process = subprocess.Popen(
        [sys.executable, str(MANAGE_PY), *args],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    process.output_file = output  # type: ignore[attr-defined]
    return process


def output_of(process: subprocess.Popen[bytes]) -> str:
    output = process.output_file  # type: ignore[attr-defined]
    output.seek(0)
    return output.read().decode(errors="replace")[-20_000:]


def wait_for[T](probe: Callable[[], T], *, timeout: float, what: str, interval: float = 0.1) -> T:
    """Poll until probe() is truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def stop(process: subprocess.Popen[bytes]) -> str:
    """Terminate (then kill) a process we started; return what it printed."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    return output_of(process)


ALL_ROLES = [
    "Organization.Read.All",
    "DeviceManagementManagedDevices.Read.All",
    "DeviceManagementConfiguration.Read.All",
    "DeviceManagementApps.Read.All",
    "DeviceManagementServiceConfig.Read.All",
]


def sim_tenant(tenant_id: str, secret: str, **fields: Any) -> Any:
    """A healthy simulated tenant signing in with the demo app and `secret`."""
    from tenantatlas.simulator.scenarios import AppScenario, SecretSpec, TenantScenario
    from tenantatlas.testing import DEMO_CLIENT_ID

    return TenantScenario(
        tenant_id=tenant_id,
        display_name=fields.pop("display_name", f"Tenant {tenant_id[:8]}"),
        default_domain=fields.pop("default_domain", f"t{tenant_id[:8]}.onmicrosoft.com"),
        apps=[
            AppScenario(
                client_id=DEMO_CLIENT_ID,
                secrets=[SecretSpec(secret)],
                roles=fields.pop("roles", list(ALL_ROLES)),
            )
        ],
        **fields,
    )
