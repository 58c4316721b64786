"""The counter files of processes that exited, folded into one archive file per kind.

In multiprocess mode every process writes ``counter_<pid>.db`` and ``histogram_<pid>.db``, and
a file outlives its process so that its counts stay in the sums. A machine that starts many
processes (RQ forks a work horse for every run, cron starts the reaper every minute) would
otherwise collect files without end, and every scrape reads them all. So before a scrape reads
the directory, the files of processes that no longer exist are added into
``counter_archive.db`` and ``histogram_archive.db`` (the sums stay the same) and removed.

Folding takes the directory's lock exclusively and reading takes it shared, so two web
processes never fold the same file twice and a scrape never reads a file that goes away.
Processes counting take no lock: only files of exited processes are touched.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prometheus_client.metrics_core import Metric
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.multiprocess import MultiProcessCollector

KINDS = ("counter", "histogram")
ARCHIVE = "archive"


def _exited(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # no signal: only asks whether the process exists
    except ProcessLookupError:
        return True
    except PermissionError:  # it exists, under another user
        return False
    return False


@contextmanager
def _locked(directory: Path, *, exclusive: bool) -> Iterator[None]:
    with open(directory / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _files_of_exited_processes(directory: Path, kind: str) -> list[Path]:
    found = []
    for path in sorted(directory.glob(f"{kind}_*.db")):
        pid = path.stem.removeprefix(f"{kind}_")
        if pid.isdigit() and _exited(int(pid)):
            found.append(path)
    return found


def fold_exited_processes(directory: Path) -> int:
    """Add the counts of exited processes to the archives; returns how many files went."""
    folded = 0
    with _locked(directory, exclusive=True):
        for kind in KINDS:
            files = _files_of_exited_processes(directory, kind)
            if not files:
                continue
            archive = MmapedDict(str(directory / f"{kind}_{ARCHIVE}.db"))
            try:
                for path in files:
                    for key, value, _, _ in MmapedDict.read_all_values_from_file(str(path)):
                        current, _ = archive.read_value(key)
                        archive.write_value(key, current + value, 0.0)
                    path.unlink()
                    folded += 1
            finally:
                archive.close()
    return folded


def read_counters(directory: Path) -> list[Metric]:
    """Every process counter of the machine, summed (after folding the exited ones)."""
    fold_exited_processes(directory)
    with _locked(directory, exclusive=False):
        files = [str(path) for path in directory.glob("*.db")]
        return list(MultiProcessCollector.merge(files, accumulate=True))
