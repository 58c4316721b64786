"""The directory where the processes of one machine keep their counters for ``/metrics``.

prometheus_client's multiprocess mode: each process (web, worker, reaper) writes its counters
and histograms into files of its own in one directory, and ``/metrics`` adds them up when it
is scraped. prometheus_client reads ``PROMETHEUS_MULTIPROC_DIR`` when it is first imported, so
settings choose the directory (:func:`prepare`) before anything imports it.

Default: ``DATA_DIR/metrics/<boot id>-<host name>``. Every process of the machine shares it
(the embedded ``serve`` and its children; the web, worker and reaper units of one host) and
only they do: files are named by process id, so processes of another machine or container (its
own host name) sharing the data directory must not write there. A process that exited stays
counted (``/metrics`` folds its files into an archive, observability/archive.py), so the sums
never go down while the machine runs; and a reboot, after which no process of the old
directory can still be writing, starts afresh: the first process to start removes the
directories of earlier boots. An explicit ``PROMETHEUS_MULTIPROC_DIR`` is
used as it is (whoever sets it empties it before the machine's processes start). A test
process (pytest) counts in a directory of its own, removed when it exits, just as it has a
test database of its own: parallel test runs never add up each other's numbers, and a product
started from the same data directory never sees a test's. The processes a test starts inherit
its directory.

No Django here: settings call it first thing.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import socket
import sys
import tempfile
from pathlib import Path

from tenantatlas.lib.private_files import make_private_dir

VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def boot_id() -> str:
    """This boot of the machine (Linux); a fixed name where the system does not tell."""
    try:
        return _BOOT_ID.read_text().strip() or "this-boot"
    except OSError:
        return "this-boot"


def host_name() -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", socket.gethostname())[:64] or "host"


def _forget_earlier_boots(root: Path, boot: str) -> None:
    for entry in root.iterdir():
        if not entry.name.startswith(f"{boot}-") and entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)


def _is_test_runner() -> bool:
    """pytest's own process (pytest sets PYTEST_VERSION, which the processes a test starts
    inherit, but only the runner has imported pytest)."""
    return bool(os.environ.get("PYTEST_VERSION")) and "pytest" in sys.modules


def _machine_dir(data_dir: Path) -> Path:
    root = make_private_dir(data_dir / "metrics")
    boot = boot_id()
    _forget_earlier_boots(root, boot)
    return make_private_dir(root / f"{boot}-{host_name()}")


def _choose(data_dir: Path) -> Path:
    if _is_test_runner():
        own = make_private_dir(_machine_dir(data_dir) / f"tests-{os.getpid()}")
        atexit.register(shutil.rmtree, own, ignore_errors=True)
        return own
    explicit = os.environ.get(VARIABLE)
    return make_private_dir(Path(explicit)) if explicit else _machine_dir(data_dir)


def prepare(data_dir: Path) -> Path:
    """Choose (and create, 0700) the directory, and tell prometheus_client through the
    environment, which the processes this one starts inherit."""
    try:
        directory = _choose(data_dir)
    except OSError:
        # A data directory this user cannot write (a command run as another user): this
        # process still runs, its own counters unseen by /metrics.
        directory = Path(tempfile.mkdtemp(prefix="tenantatlas-metrics-"))
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
    os.environ[VARIABLE] = str(directory)
    return directory
