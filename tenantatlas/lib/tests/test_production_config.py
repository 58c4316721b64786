"""The production configuration on this machine, as docs/deploy.md describes it.

``TENANTATLAS_ENV=production`` with explicit secrets, PostgreSQL (a database created for this
test), RQ on Redis (a logical database of its own), gunicorn with two processes behind a
pretend TLS proxy (``X-Forwarded-Proto: https``) and two worker processes. A user signs in over
HTTP, starts an inventory sync on the real start surface, and the run is followed to
``succeeded`` on its Monitoring page. Everything runs as subprocesses of this test, which talks
to them only over HTTP, and to PostgreSQL and Redis to set up, check and clean up.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
import redis
import requests
from cryptography.fernet import Fernet
from django.conf import settings
from django.urls import reverse
from psycopg import sql

from tenantatlas.lib.tests.local_servers import (
    POSTGRES_ADMIN_URL,
    postgres_admin_connection,
    redis_url,
)
from tenantatlas.operations.tests.processes import MANAGE_PY, manage, stop, wait_for

CONTOSO_TENANT = "5a1c0e4b-7f2d-4c8e-9b6a-3d2f1e0c9b8a"
CONTOSO_CLIENT = "0b5e2c4d-9a1f-4e3b-8c7d-6f5a4b3c2d1e"
CONTOSO_SECRET = "contoso-demo-secret"
CONTOSO_DEVICES = 5000  # scenarios/demo.toml
PASSWORD = "prod-config-password-4e1b"
SLUG = "prod"

SETUP_SCRIPT = """
import json
from django.contrib.auth import get_user_model
from tenantatlas.providers.credential_input import SecretInput
from tenantatlas.providers.services.connections import create_connection
from tenantatlas.workspaces.models import Membership, Role, Workspace

user = get_user_model().objects.create_user(username="olivia", password={password!r})
workspace = Workspace.objects.create(name="Production check", slug={slug!r})
Membership.objects.create(workspace=workspace, user=user, role=Role.OWNER)
connection = create_connection(
    actor=user,
    workspace=workspace,
    display_name="Contoso",
    entra_tenant_id={tenant!r},
    cloud="simulator",
    credential=SecretInput(client_id={client!r}, client_secret={secret!r}),
)
print(json.dumps({{"connection": connection.pk}}))
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _base_env() -> dict[str, str]:
    """This process's environment without any TenantAtlas or Django configuration."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(
            ("TENANTATLAS_", "DJANGO_", "SECRET_KEY", "DATABASE_URL", "REDIS_URL")
        )
        and key not in {"ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "DEBUG", "SECURE_COOKIES"}
    }


def _run_manage(
    *args: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(MANAGE_PY), *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def production_database() -> Iterator[str]:
    """A PostgreSQL database of its own, dropped afterwards (also on failure)."""
    name = f"ta_prod_{os.getpid()}"
    with postgres_admin_connection() as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with postgres_admin_connection() as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def production_redis() -> Iterator[str]:
    """A Redis logical database of its own, flushed before and after."""
    url = redis_url(1 + os.getpid() % 14)
    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


@pytest.fixture
def production_env(
    production_database: str, production_redis: str, simulator: Any, tmp_path: Any
) -> dict[str, str]:
    return {
        **_base_env(),
        "TENANTATLAS_ENV": "production",
        "SECRET_KEY": "prod-config-test-" + Fernet.generate_key().decode(),
        "TENANTATLAS_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DATABASE_URL": production_database,
        "DB_CONN_MAX_AGE": "60",
        "TENANTATLAS_TASK_TRANSPORT": "rq",
        "REDIS_URL": production_redis,
        "TENANTATLAS_DATA_DIR": str(tmp_path / "data"),
        "TENANTATLAS_SIMULATOR_URL": simulator.base_url,
        "TENANTATLAS_SIMULATOR_CA_BUNDLE": str(simulator.ca_bundle),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_PROXY_SSL_HEADER": "true",
        "TENANTATLAS_RUN_HEARTBEAT_SECONDS": "2",
        "PYTHONUNBUFFERED": "1",
    }


@dataclass
class ProxiedBrowser:
    """An HTTP client that reaches gunicorn the way a TLS-terminating proxy would forward it.

    Cookies are kept by hand: production marks them ``Secure``, which a plain-HTTP client
    would (rightly) never send back; behind the proxy the browser's side is HTTPS.
    """

    port: int
    session: requests.Session = field(default_factory=requests.Session)
    cookies: dict[str, str] = field(default_factory=dict)
    secure_cookies: set[str] = field(default_factory=set)

    @property
    def origin(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {
            "X-Forwarded-Proto": "https",
            "Origin": self.origin,
            "Referer": self.origin + path,
            **kwargs.pop("headers", {}),
        }
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        response = self.session.request(
            method,
            f"http://127.0.0.1:{self.port}{path}",
            headers=headers,
            allow_redirects=False,
            timeout=30,
            **kwargs,
        )
        for cookie in response.cookies:
            self.cookies[cookie.name] = cookie.value or ""
            if cookie.secure:
                self.secure_cookies.add(cookie.name)
        return response

    def csrf_token(self, path: str) -> str:
        page = self.request("GET", path)
        assert page.status_code == 200, (path, page.status_code)
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert match, f"no CSRF token on {path}"
        return match.group(1)


def test_production_refuses_to_start_without_its_secrets(tmp_path: Any) -> None:
    env = {
        **_base_env(),
        "TENANTATLAS_ENV": "production",
        "TENANTATLAS_DATA_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
    }
    key = Fernet.generate_key().decode()

    without_secret_key = _run_manage("check", env={**env, "TENANTATLAS_ENCRYPTION_KEYS": key})
    without_keys = _run_manage("check", env={**env, "SECRET_KEY": "s" * 50})
    with_both = _run_manage(
        "check", env={**env, "SECRET_KEY": "s" * 50, "TENANTATLAS_ENCRYPTION_KEYS": key}
    )

    assert without_secret_key.returncode != 0
    assert "SECRET_KEY is not configured" in without_secret_key.stderr
    assert without_keys.returncode != 0
    assert "TENANTATLAS_ENCRYPTION_KEYS is not configured" in without_keys.stderr
    assert "never generates production secrets" in without_keys.stderr
    assert with_both.returncode == 0, with_both.stderr
    assert not (tmp_path / "secret_key").exists()
    assert not (tmp_path / "encryption_keys").exists()


@pytest.mark.slow
def test_it_runs_an_inventory_sync_through_gunicorn_and_two_rq_workers(
    production_env: dict[str, str], production_database: str, production_redis: str
) -> None:
    env = production_env
    migrate = _run_manage("migrate", "--noinput", env=env, timeout=300)
    assert migrate.returncode == 0, migrate.stderr
    static = _run_manage("collectstatic", "--noinput", env=env)
    assert static.returncode == 0, static.stderr
    setup = _run_manage(
        "shell",
        "-c",
        SETUP_SCRIPT.format(
            password=PASSWORD,
            slug=SLUG,
            tenant=CONTOSO_TENANT,
            client=CONTOSO_CLIENT,
            secret=CONTOSO_SECRET,
        ),
        env=env,
    )
    assert setup.returncode == 0, setup.stderr
    connection_pk = json.loads(setup.stdout.strip().splitlines()[-1])["connection"]

    port = _free_port()
    processes: list[subprocess.Popen[bytes]] = []
    passed = False
    try:
        processes.append(_gunicorn(port, env))
        processes += [manage("worker", env=env), manage("worker", env=env)]
        browser = ProxiedBrowser(port)

        ready = wait_for(
            lambda: _get_json(port, "/readyz"), timeout=180, what="gunicorn to be ready"
        )
        assert (ready["status"], ready["checks"]) == ("ok", {"database": "ok", "redis": "ok"})
        assert ready["queue"]["queued"] == 0
        assert _live(port)
        _wait_for_rq_workers(production_redis, count=2)
        assert (
            requests.get(
                f"http://127.0.0.1:{port}/healthz", headers={"Host": "other.example"}, timeout=10
            ).status_code
            == 400
        )  # ALLOWED_HOSTS applies to probes too
        assert (
            requests.get(f"http://127.0.0.1:{port}/static/css/app.css", timeout=10).status_code
            == 200
        )  # WhiteNoise serves the assets

        login = reverse("accounts:login")
        signed_in = browser.request(
            "POST",
            login,
            data={
                "username": "olivia",
                "password": PASSWORD,
                "csrfmiddlewaretoken": browser.csrf_token(login),
            },
        )
        assert signed_in.status_code == 302, signed_in.text[:2000]
        assert {"sessionid", "csrftoken"} <= browser.secure_cookies

        connections_page = reverse("providers:list", kwargs={"slug": SLUG})
        start = browser.request(
            "POST",
            reverse(
                "providers:start",
                kwargs={"slug": SLUG, "pk": connection_pk, "operation_type": "inventory.sync"},
            ),
            data={"csrfmiddlewaretoken": browser.csrf_token(connections_page)},
            headers={"HX-Request": "true"},
        )
        assert start.status_code == 200, start.text[:2000]
        assert "Inventory sync queued" in start.text
        run_url = re.search(r'href="(/w/prod/runs/(\d+)/)"', start.text)
        assert run_url, start.text
        run_pk = int(run_url.group(2))

        def finished() -> str:
            page = browser.request("GET", run_url.group(1))
            assert page.status_code == 200
            return "done" if 'data-active="false"' in page.text else ""

        wait_for(finished, timeout=120, interval=0.5, what="the run to finish")
        run_page = browser.request("GET", run_url.group(1)).text
        assert "Succeeded" in run_page
        passed = True
    finally:
        outputs = [stop(process) for process in processes]
        if not passed:  # pytest shows this with the failure
            for process, output in zip(processes, outputs, strict=True):
                print(f"--- {process.args!r}\n{output}")

    with psycopg.connect(production_database) as db:
        status, reason, counts = db.execute(
            "SELECT status, reason_code, summary_counts FROM operations_operationrun WHERE id = %s",
            [run_pk],
        ).fetchone()  # type: ignore[misc]
        devices = db.execute(
            "SELECT count(*) FROM inventory_inventoryitem"
            " WHERE connection_id = %s AND kind = 'managed_device' AND removed_at IS NULL",
            [connection_pk],
        ).fetchone()[0]  # type: ignore[index]
    assert (status, reason) == ("succeeded", ""), counts
    assert devices == CONTOSO_DEVICES
    web_log, *worker_logs = outputs
    assert not re.search(r'HTTP/1\.1" 5\d\d ', web_log), web_log
    assert "Traceback" not in "".join(worker_logs), worker_logs


def _gunicorn(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Two gunicorn processes, the way docs/deploy.md starts them."""
    output = tempfile.TemporaryFile()  # noqa: SIM115 - read by stop()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "tenantatlas.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "-w",
            "2",
            "--threads",
            "2",
            "--access-logfile",
            "-",
            "--no-control-socket",
        ],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    process.output_file = output  # type: ignore[attr-defined]
    return process


def _get_json(port: int, path: str) -> Any:
    try:
        response = requests.get(f"http://127.0.0.1:{port}{path}", timeout=30)
    except requests.RequestException:  # not listening yet, or still importing the app
        return None
    return response.json() if response.status_code == 200 else None


def _live(port: int) -> bool:
    return _get_json(port, "/healthz") == {"status": "ok"}


def _wait_for_rq_workers(url: str, *, count: int) -> None:
    from rq import Worker

    connection = redis.Redis.from_url(url)
    try:
        wait_for(
            lambda: len(Worker.all(connection=connection)) >= count,
            timeout=60,
            what=f"{count} RQ workers to register",
        )
    finally:
        connection.close()
