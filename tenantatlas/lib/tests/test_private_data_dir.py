"""The embedded data directory (SQLite database, WAL, generated secrets) is private to its owner.

Each test starts a real process the way an operator does (the ``tenantatlas`` command,
``manage.py``, gunicorn's import of ``tenantatlas.wsgi``) with a permissive umask of 022, and
checks the modes on disk: the directory 0700, every file in it 0600.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.conf import settings

BIN = Path(sys.executable).parent
MANAGE_PY = Path(settings.BASE_DIR) / "manage.py"
SECRET_FILES = ("secret_key", "encryption_keys")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _env(data_dir: Path) -> dict[str, str]:
    """An embedded setup in ``data_dir``: none of this process's TenantAtlas configuration."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TENANTATLAS_", "DJANGO_", "SECRET_KEY", "DATABASE_URL"))
    }
    env["TENANTATLAS_DATA_DIR"] = str(data_dir)
    return env


def _run(argv: list[str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        argv,
        cwd=settings.BASE_DIR,
        env=_env(data_dir),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        preexec_fn=lambda: os.umask(0o022),  # what a login shell typically has
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return result


def _modes(data_dir: Path) -> dict[str, int]:
    return {path.name: _mode(path) for path in sorted(data_dir.iterdir()) if path.is_file()}


def test_it_creates_the_data_directory_and_its_files_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"

    _run([str(BIN / "tenantatlas"), "migrate", "-v0"], data_dir)

    assert _mode(data_dir) == 0o700
    modes = _modes(data_dir)
    assert {"tenantatlas.sqlite3", *SECRET_FILES} <= set(modes)
    assert modes == dict.fromkeys(modes, 0o600)


def test_it_tightens_an_existing_data_directory_on_start(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    data_dir.mkdir(mode=0o755)
    data_dir.chmod(0o755)
    database = data_dir / "tenantatlas.sqlite3"
    with sqlite3.connect(database) as db:
        db.execute("CREATE TABLE left_over (x)")
    (data_dir / "secret_key").write_text("an-old-embedded-secret-key-value")
    (data_dir / "encryption_keys").write_text(Fernet.generate_key().decode() + "\n")
    for path in data_dir.iterdir():
        path.chmod(0o644)

    _run([str(BIN / "tenantatlas"), "check"], data_dir)

    assert _mode(data_dir) == 0o700
    assert _modes(data_dir) == {
        "encryption_keys": 0o600,
        "secret_key": 0o600,
        "tenantatlas.sqlite3": 0o600,
    }


SHOW_OPEN_MODES = """
import os, stat
from django.conf import settings
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("CREATE TABLE IF NOT EXISTS probe (x)")
    cursor.execute("INSERT INTO probe VALUES (1)")
for path in sorted(settings.DATA_DIR.iterdir()):
    print("mode", path.name, oct(stat.S_IMODE(path.stat().st_mode)))
print("mode", "umask", oct(os.umask(0)))
"""


@pytest.mark.parametrize(
    "entry_point",
    [
        pytest.param([str(BIN / "tenantatlas"), "shell", "-c", SHOW_OPEN_MODES], id="tenantatlas"),
        pytest.param([sys.executable, str(MANAGE_PY), "shell", "-c", SHOW_OPEN_MODES], id="manage"),
        pytest.param(
            [sys.executable, "-c", "import tenantatlas.wsgi\n" + SHOW_OPEN_MODES], id="wsgi"
        ),
    ],
)
def test_it_keeps_the_database_and_its_wal_private_while_in_use(
    entry_point: list[str], tmp_path: Path
) -> None:
    data_dir = tmp_path / "var"

    output = _run(entry_point, data_dir).stdout

    shown = dict(line.split()[1:] for line in output.splitlines() if line.startswith("mode "))
    assert shown.pop("umask") == "0o77"
    assert {"tenantatlas.sqlite3", "tenantatlas.sqlite3-wal", "tenantatlas.sqlite3-shm"} <= set(
        shown
    )
    assert shown == dict.fromkeys(shown, "0o600")
    assert _mode(data_dir) == 0o700
