"""`tenantatlas check --deploy` in the production shape of docs/deploy.md.

Behind a TLS-terminating proxy Django warns about HSTS (security.W004) and the HTTP→HTTPS
redirect (security.W008). Either the application does both (SECURE_HSTS_SECONDS,
SECURE_SSL_REDIRECT) or the operator says the proxy does (TENANTATLAS_PROXY_ENFORCES_HTTPS),
which silences exactly those two.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.conf import settings

TENANTATLAS = str(Path(sys.executable).parent / "tenantatlas")


def _check_deploy(tmp_path: Path, **extra: str) -> str:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TENANTATLAS_", "DJANGO_", "SECRET_KEY", "DATABASE_URL", "SECURE_"))
    }
    env.update(
        TENANTATLAS_ENV="production",
        TENANTATLAS_DATA_DIR=str(tmp_path / "var"),
        SECRET_KEY="k" * 60 + "-deploy-check-secret-key",
        TENANTATLAS_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        ALLOWED_HOSTS="atlas.example.com",
        CSRF_TRUSTED_ORIGINS="https://atlas.example.com",
        SECURE_PROXY_SSL_HEADER="true",
        **extra,
    )
    result = subprocess.run(
        [TENANTATLAS, "check", "--deploy"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout + result.stderr


def test_it_warns_about_https_enforcement_when_nobody_said_who_does_it(tmp_path: Path) -> None:
    output = _check_deploy(tmp_path)

    assert "security.W004" in output
    assert "security.W008" in output


def test_it_silences_only_the_two_https_warnings_when_the_proxy_enforces_https(
    tmp_path: Path,
) -> None:
    output = _check_deploy(tmp_path, TENANTATLAS_PROXY_ENFORCES_HTTPS="true")

    assert "System check identified no issues (2 silenced)." in output


@pytest.mark.parametrize("hsts_subdomains", ["true", "false"])
def test_it_lets_the_application_enforce_https_itself(tmp_path: Path, hsts_subdomains: str) -> None:
    output = _check_deploy(
        tmp_path,
        SECURE_SSL_REDIRECT="true",
        SECURE_HSTS_SECONDS="31536000",
        SECURE_HSTS_INCLUDE_SUBDOMAINS=hsts_subdomains,
    )

    assert "security.W004" not in output
    assert "security.W008" not in output
    assert ("security.W005" in output) is (hsts_subdomains == "false")


def test_it_never_redirects_the_health_probes(client, settings) -> None:
    settings.SECURE_SSL_REDIRECT = True

    assert client.get("/healthz").status_code == 200
    assert client.get("/accounts/login/").status_code == 301
