"""An RQ work horse starts with what its job would otherwise load first.

RQ forks a work horse for every job; whatever the worker has not loaded, each horse loads
again (the Graph client and MSAL for a run, the channels and the template engine for an alert
delivery: 1–3 s per job on a busy machine, B7 in docs/performance.md). A real ``manage.py
worker`` on a private Redis runs a task that notes what its horse had loaded when it began.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest

from tenantatlas.operations.tests.processes import manage, output_of, rq_transport
from tenantatlas.operations.tests.tasks import note_loaded_modules

LOADED_BY_JOBS = [
    "msal",  # a run's first Graph request
    "tenantatlas.graph.client",
    "tenantatlas.alerts.channels",  # an alert delivery
    "tenantatlas.alerts.outbound",
    "django.template.loaders.cached",  # an e-mail alert's templates
    "tenantatlas.badges.templatetags.badges",
    "django.core.mail.backends.base",  # its mailer
]


@pytest.mark.django_db(transaction=True)
def test_a_work_horse_starts_with_what_runs_and_deliveries_load(settings, simulator, tmp_path):
    report = tmp_path / "loaded.json"
    with rq_transport(settings, simulator) as (_, env):
        note_loaded_modules.enqueue(str(report), LOADED_BY_JOBS)
        # Compiled bytecode in a private cache: a busy machine compiling Django from source
        # for this one worker would take minutes.
        env["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "tenantatlas-test-pycache")
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        worker = manage("worker", "--batch", env=env)
        assert worker.wait(timeout=300) == 0, output_of(worker)

    assert report.exists(), output_of(worker)
    assert json.loads(report.read_text()) == dict.fromkeys(LOADED_BY_JOBS, True)
