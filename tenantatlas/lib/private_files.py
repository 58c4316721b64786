"""Files only the product's own system user may read: the data directory and what it keeps.

The embedded setup keeps its SQLite database (with session keys and sealed credentials), the
generated ``SECRET_KEY`` and encryption keys in the data directory, so every entry point sets a
private umask before it creates anything and tightens a directory left readable by an older
release. No file here depends on Django, so the entry points can call it first thing.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

PRIVATE_UMASK = 0o077  # new files 0600, new directories 0700


def restrict_umask() -> None:
    """Make every file and directory this process (and its children) creates private."""
    os.umask(PRIVATE_UMASK)


def _remove_group_and_other_bits(path: Path) -> None:
    """Drop group/other permissions of ``path`` if this user owns it (never follows a link)."""
    try:
        status = path.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISLNK(status.st_mode) or status.st_uid != os.geteuid():
        return
    mode = stat.S_IMODE(status.st_mode)
    if mode & 0o077:
        path.chmod(mode & ~0o077)


def tighten(directory: Path) -> None:
    """Make ``directory`` 0700 and each file directly in it 0600 (what this user owns)."""
    if not directory.is_dir():
        return
    _remove_group_and_other_bits(directory)
    for entry in directory.iterdir():
        if entry.is_file():
            _remove_group_and_other_bits(entry)


def make_private_dir(directory: Path) -> Path:
    """Create ``directory`` (0700) if it is missing, and tighten it either way."""
    old_umask = os.umask(PRIVATE_UMASK)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    finally:
        os.umask(old_umask)
    tighten(directory)
    return directory


def _private_temp_copy(path: Path, text: str) -> Path:
    """A new 0600 file beside ``path`` with ``text``: mkstemp never reuses an existing name."""
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(handle, "w") as temporary:
        temporary.write(text)
        temporary.flush()
        os.fsync(temporary.fileno())
    return Path(name)


def write_private_file(path: Path, text: str) -> None:
    """Replace ``path`` atomically with a 0600 file holding ``text`` (a reader never sees half)."""
    temporary = _private_temp_copy(path, text)
    try:
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def create_private_file(path: Path, text: str) -> bool:
    """Create ``path`` (0600) with ``text`` unless it exists; False if another process won."""
    temporary = _private_temp_copy(path, text)
    try:
        os.link(temporary, path)  # fails if the name exists: two first starts cannot both write
    except FileExistsError:
        return False
    except OSError:  # a file system without hard links: exclusive create, then write
        return _create_exclusively(path, text)
    finally:
        temporary.unlink(missing_ok=True)
    return True


def _create_exclusively(path: Path, text: str) -> bool:
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(handle, "w") as created:
        created.write(text)
    return True
