"""One server-log line per finished run: plain by default, its fields as keys in JSON logs."""

from __future__ import annotations

import json
import logging

import pytest

from tenantatlas.lib.sanitize import SanitizingFilter
from tenantatlas.observability.logs import SanitizedJsonFormatter
from tenantatlas.operations.models import RunStatus
from tenantatlas.operations.services import cancel_run, start_operation
from tenantatlas.operations.tests.processes import run_once, sim_tenant
from tenantatlas.testing import make_sim_connection

TENANT = "0b7c3e5a-1d2f-4a6b-8c9d-e0f1a2b3c4d5"
SECRET = "run-line-secret-value-9c1e"
RUN_LOGGER = "tenantatlas.operations.runs"
FIELDS = (
    "run_id",
    "operation_type",
    "status",
    "reason_code",
    "connection_id",
    "connection_name",
    "workspace",
    "trigger",
    "duration_seconds",
    "summary_counts",
)


def run_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == RUN_LOGGER]


def as_json(record: logging.LogRecord) -> dict:
    """The record as the JSON handler writes it (same filter, same formatter)."""
    SanitizingFilter().filter(record)
    return json.loads(SanitizedJsonFormatter().format(record))


@pytest.fixture
def synced(sim, acme, alice, caplog, django_capture_on_commit_callbacks):
    sim.add_tenant(sim_tenant(TENANT, SECRET, device_count=7))
    conn = make_sim_connection(acme, alice, TENANT, SECRET, name='Contoso "EU"')
    with caplog.at_level(logging.INFO, logger=RUN_LOGGER):
        run = run_once(conn, alice, "inventory.sync", django_capture_on_commit_callbacks)
    assert run.status == RunStatus.SUCCEEDED
    return conn, run, run_lines(caplog)


def test_it_logs_one_plain_line_per_finished_run(synced):
    conn, run, lines = synced

    [line] = lines
    message = line.getMessage()
    assert message.startswith(f"Run {run.pk} finished: inventory.sync succeeded in ")
    assert f'connection {conn.pk} "Contoso \\"EU\\"" in workspace acme' in message
    assert f"summary {json.dumps(run.summary_counts, sort_keys=True, separators=(',', ':'))}" in (
        message
    )
    assert run.summary_counts  # the sync counted what it stored
    assert SECRET not in message


def test_its_json_line_carries_the_run_fields(synced):
    conn, run, lines = synced

    [line] = lines
    data = as_json(line)
    duration = (run.finished_at - run.started_at).total_seconds()
    assert data["level"] == "INFO"
    assert data["logger"] == RUN_LOGGER
    assert data["message"].startswith(f"Run {run.pk} finished")
    assert {key: data[key] for key in FIELDS} == {
        "run_id": run.pk,
        "operation_type": "inventory.sync",
        "status": "succeeded",
        "reason_code": "",
        "connection_id": conn.pk,
        "connection_name": 'Contoso "EU"',
        "workspace": "acme",
        "trigger": "ui",
        "duration_seconds": round(duration, 3),
        "summary_counts": run.summary_counts,
    }
    assert SECRET not in json.dumps(data)


def test_a_run_that_never_started_has_no_duration(
    contoso, alice, caplog, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        run = start_operation(
            actor=alice, member=None, connection=contoso, operation_type="inventory.sync"
        ).run
    with (
        caplog.at_level(logging.INFO, logger=RUN_LOGGER),
        django_capture_on_commit_callbacks(execute=True),
    ):
        cancel_run(actor=alice, member=None, run=run)

    [line] = run_lines(caplog)
    assert f"inventory.sync cancelled (run.cancelled) in -; connection {contoso.pk}" in (
        line.getMessage()
    )
    data = as_json(line)
    assert (data["status"], data["reason_code"], data["duration_seconds"]) == (
        "cancelled",
        "run.cancelled",
        None,
    )
