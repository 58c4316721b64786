"""Operation time limits come from configuration; RQ never kills a run before its own limit."""

from __future__ import annotations

import json

from django.conf import settings

from tenantatlas.operations.registry import OPERATIONS
from tenantatlas.operations.tests.processes import manage, output_of, subprocess_env

SHOW = """
import json
from django.conf import settings
from tenantatlas.operations.registry import OPERATIONS
print("CONFIG", json.dumps({
    "timeouts": {key: op.timeout_seconds for key, op in OPERATIONS.items()},
    "rq": min(queue["DEFAULT_TIMEOUT"] for queue in settings.RQ_QUEUES.values()),
}))
"""


def _configured(**env: str) -> dict:
    process = manage(
        "shell", "-c", SHOW, env=subprocess_env(TENANTATLAS_TASK_TRANSPORT="rq", **env)
    )
    process.wait(timeout=60)
    output = output_of(process)
    line = next((ln for ln in output.splitlines() if ln.startswith("CONFIG ")), None)
    assert line is not None, output
    return json.loads(line.removeprefix("CONFIG "))


def test_it_declares_a_time_limit_for_every_operation():
    assert set(settings.OPERATION_TIMEOUTS) == set(OPERATIONS)
    for key, op in OPERATIONS.items():
        assert op.timeout_seconds == settings.OPERATION_TIMEOUTS[key] > 0


def test_it_keeps_the_rq_job_timeout_above_every_operation_timeout():
    longest = max(op.timeout_seconds for op in OPERATIONS.values())
    assert longest + settings.RQ_JOB_TIMEOUT_MARGIN <= settings.RQ_JOB_TIMEOUT
    assert settings.RQ_JOB_TIMEOUT_MARGIN >= 300  # a page may take minutes of Graph retries


def test_it_reads_time_limits_from_the_environment_and_raises_the_rq_timeout_with_them():
    defaults = _configured()
    assert defaults["timeouts"] == {key: op.timeout_seconds for key, op in OPERATIONS.items()}
    assert defaults["rq"] > max(defaults["timeouts"].values())

    tuned = _configured(
        TENANTATLAS_OPERATION_TIMEOUT_INVENTORY_SYNC="86400",
        TENANTATLAS_OPERATION_TIMEOUT_PROVIDER_HEALTH_CHECK="120",
    )
    assert tuned["timeouts"]["inventory.sync"] == 86400
    assert tuned["timeouts"]["provider.health_check"] == 120
    assert tuned["timeouts"]["compliance.snapshot"] == defaults["timeouts"]["compliance.snapshot"]
    assert tuned["rq"] >= 86400 + 300  # longer than the longest limit, never shorter


def test_it_refuses_a_time_limit_that_is_not_a_positive_number():
    process = manage(
        "check", env=subprocess_env(TENANTATLAS_OPERATION_TIMEOUT_INVENTORY_SYNC="soon")
    )
    process.wait(timeout=60)
    assert process.returncode != 0
    assert "TENANTATLAS_OPERATION_TIMEOUT_INVENTORY_SYNC" in output_of(process)

    process = manage("check", env=subprocess_env(TENANTATLAS_OPERATION_TIMEOUT_INVENTORY_SYNC="0"))
    process.wait(timeout=60)
    assert process.returncode != 0
    assert "TENANTATLAS_OPERATION_TIMEOUT_INVENTORY_SYNC" in output_of(process)
