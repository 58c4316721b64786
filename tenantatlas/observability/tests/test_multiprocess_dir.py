"""Where the processes of a machine keep their counters: one directory per boot and host name
under the data directory (earlier boots removed, other hosts of this boot kept), an explicit
PROMETHEUS_MULTIPROC_DIR as it is, and a directory of its own for each test process."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings
from prometheus_client import values

from tenantatlas.observability import multiprocess

BOOT = "6f1d2c3b-0000-4000-8000-00000000b007"


@pytest.fixture
def machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data directory on a machine that is not running tests, at boot BOOT."""
    monkeypatch.setattr(multiprocess, "boot_id", lambda: BOOT)
    monkeypatch.setattr(multiprocess, "host_name", lambda: "web-1")
    monkeypatch.setattr(multiprocess, "_is_test_runner", lambda: False)
    monkeypatch.delenv(multiprocess.VARIABLE, raising=False)
    return tmp_path


def test_it_counts_in_this_boots_directory_and_forgets_earlier_boots(
    machine: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    earlier = machine / "metrics" / "an-earlier-boot-web-1"
    earlier.mkdir(parents=True)
    (earlier / "counter_4242.db").write_bytes(b"\0" * 16)
    current = machine / "metrics" / f"{BOOT}-web-1"
    current.mkdir()
    (current / "counter_77.db").write_bytes(b"\0" * 16)  # a process of this boot
    neighbour = machine / "metrics" / f"{BOOT}-worker-container-2"  # same boot, another host
    neighbour.mkdir()

    directory = multiprocess.prepare(machine)

    assert directory == current
    assert os.environ[multiprocess.VARIABLE] == str(current)
    assert not earlier.exists()
    assert (current / "counter_77.db").exists()
    assert neighbour.is_dir()
    assert current.stat().st_mode & 0o777 == 0o700


def test_an_explicit_directory_is_used_as_it_is(
    machine: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chosen = machine / "run" / "tenantatlas-metrics"
    monkeypatch.setenv(multiprocess.VARIABLE, str(chosen))

    assert multiprocess.prepare(machine) == chosen
    assert chosen.is_dir()
    assert not (machine / "metrics").exists()


def test_a_test_process_counts_in_a_directory_of_its_own() -> None:
    directory = Path(settings.METRICS_DIR)

    assert directory.name == f"tests-{os.getpid()}"
    machine = f"{multiprocess.boot_id()}-{multiprocess.host_name()}"
    assert directory.parent == Path(settings.DATA_DIR) / "metrics" / machine
    assert os.environ[multiprocess.VARIABLE] == str(directory)
    assert values.ValueClass._multiprocess  # prometheus_client saw the directory in time
