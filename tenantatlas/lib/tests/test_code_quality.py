"""The project's own gates run inside the suite, so `./run test` is the one command that must pass."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

ROOT = Path(settings.BASE_DIR)
BIN = Path(sys.executable).parent


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)


@pytest.mark.django_db  # the checks include database ones (stored credentials vs. the keys)
def test_it_passes_django_system_checks() -> None:
    call_command("check", fail_level="WARNING")


@pytest.mark.django_db
def test_it_has_no_missing_migrations() -> None:
    call_command("makemigrations", check=True, dry_run=True, verbosity=0)


@pytest.mark.one_pass
def test_it_is_ruff_clean() -> None:
    lint = _run(str(BIN / "ruff"), "check", ".")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = _run(str(BIN / "ruff"), "format", "--check", ".")
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


@pytest.mark.slow
@pytest.mark.one_pass
def test_it_is_mypy_clean() -> None:
    result = _run(str(BIN / "mypy"), "tenantatlas")
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
