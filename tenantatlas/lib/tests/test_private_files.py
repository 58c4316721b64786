"""The helpers behind the private data directory: modes, atomic writes, first-start races."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tenantatlas.lib.private_files import (
    create_private_file,
    make_private_dir,
    tighten,
    write_private_file,
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_it_creates_a_file_once_and_lets_a_second_start_read_the_first_value(
    tmp_path: Path,
) -> None:
    path = tmp_path / "secret_key"

    assert create_private_file(path, "first") is True
    assert create_private_file(path, "second") is False

    assert path.read_text() == "first"
    assert _mode(path) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret_key"]  # no temporary left


def test_it_creates_the_file_where_hard_links_are_not_supported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(*args: object) -> None:
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    path = tmp_path / "encryption_keys"

    assert create_private_file(path, "key") is True
    assert create_private_file(path, "other") is False
    assert (path.read_text(), _mode(path)) == ("key", 0o600)


def test_it_replaces_a_file_atomically_with_a_private_one(tmp_path: Path) -> None:
    path = tmp_path / "bundle.pem"
    path.write_text("old")
    path.chmod(0o644)

    write_private_file(path, "new")

    assert (path.read_text(), _mode(path)) == ("new", 0o600)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle.pem"]


def test_it_only_removes_permissions_and_leaves_links_and_subdirectories_alone(
    tmp_path: Path,
) -> None:
    data = tmp_path / "var"
    data.mkdir()
    data.chmod(0o755)
    (data / "read_only").write_text("x")
    (data / "read_only").chmod(0o444)
    outside = tmp_path / "outside"
    outside.write_text("y")
    outside.chmod(0o644)
    (data / "link").symlink_to(outside)
    (data / "staticfiles").mkdir()
    (data / "staticfiles").chmod(0o755)

    tighten(data)

    assert _mode(data) == 0o700
    assert _mode(data / "read_only") == 0o400
    assert _mode(outside) == 0o644  # not followed through the link
    assert _mode(data / "staticfiles") == 0o755  # unreachable for others through data anyway


def test_it_makes_missing_directories_private_whatever_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        made = make_private_dir(tmp_path / "a" / "b")
    finally:
        os.umask(previous)

    assert _mode(made) == 0o700
    assert _mode(tmp_path / "a") == 0o700
