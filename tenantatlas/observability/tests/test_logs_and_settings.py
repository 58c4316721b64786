"""TENANTATLAS_LOG_FORMAT=json writes one sanitized JSON object per line (plain by default), and
the observability settings refuse values they cannot use, naming the variable."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from django.conf import settings

SECRET = "metrics-canary-Zx81-value"
EMIT = (
    "import logging; logging.getLogger('tenantatlas.check').warning("
    "'signed in with Bearer %s', 'eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl', "
    f"extra={{'client_secret': '{SECRET}', 'attempts': 3, 'note': 'client_secret={SECRET}'}})"
)


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("TENANTATLAS_LOG")
    }
    environment.update(DJANGO_SETTINGS_MODULE="tenantatlas.settings", **env)
    return subprocess.run(  # the product's own manage.py
        [sys.executable, str(settings.BASE_DIR / "manage.py"), *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_json_logs_are_one_sanitized_object_per_line() -> None:
    result = manage("shell", "-c", EMIT, TENANTATLAS_LOG_FORMAT="json")

    assert result.returncode == 0, result.stderr
    [line] = [line for line in result.stderr.splitlines() if "tenantatlas.check" in line]
    record = json.loads(line)
    assert record["level"] == "WARNING"
    assert record["logger"] == "tenantatlas.check"
    assert record["message"] == "signed in with Bearer [redacted]"
    assert record["client_secret"] == "[redacted]"
    assert record["note"] == "client_secret=[redacted]"
    assert record["attempts"] == 3
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["time"])
    assert SECRET not in result.stderr


def test_plain_logs_stay_the_default() -> None:
    result = manage("shell", "-c", EMIT)

    assert result.returncode == 0, result.stderr
    [line] = [line for line in result.stderr.splitlines() if "tenantatlas.check" in line]
    assert re.fullmatch(
        r"\S+ \S+ WARNING tenantatlas\.check signed in with Bearer \[redacted\]", line
    )
    assert SECRET not in result.stderr


@pytest.mark.parametrize(
    ("variable", "bad", "said"),
    [
        ("TENANTATLAS_LOG_FORMAT", "xml", "TENANTATLAS_LOG_FORMAT='xml': use plain or json"),
        ("TENANTATLAS_METRICS_TOKEN", "short", "TENANTATLAS_METRICS_TOKEN must be at least 16"),
        (
            "TENANTATLAS_METRICS_ALLOWED_NETWORKS",
            "10.0.0.0/8,intranet",
            "TENANTATLAS_METRICS_ALLOWED_NETWORKS: 'intranet' is not an address or network",
        ),
    ],
)
def test_it_refuses_an_unusable_setting_by_name(variable: str, bad: str, said: str) -> None:
    result = manage("check", **{variable: bad})

    assert result.returncode != 0
    assert said in result.stderr
