"""Fifty people press "run" on one Entra tenant at the same moment, twenty times over.

Real HTTP (live server, session cookie + CSRF token, htmx header), real threads, the
database the suite runs on. Each round must end with exactly one active run; every other
answer is "Already running" (same type) or "Scope busy" (other type); nothing is a 5xx.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.conf import settings
from django.test import Client

from tenantatlas.operations.models import ACTIVE_STATUSES, OperationRun, RunStatus
from tenantatlas.operations.registry import OPERATIONS
from tenantatlas.operations.services import scope_key_for
from tenantatlas.testing import make_connection

ROUNDS = 20
REQUESTS_PER_ROUND = 50
TYPES = list(OPERATIONS)


def signed_in_session(live_server, user) -> requests.Session:
    """A browser-like session: the user's session cookie plus the CSRF token from a GET."""
    client = Client()
    client.force_login(user)
    session = requests.Session()
    session.cookies.set(
        settings.SESSION_COOKIE_NAME, client.cookies[settings.SESSION_COOKIE_NAME].value
    )
    page = session.get(f"{live_server.url}/w/acme/connections/", timeout=30)
    assert page.status_code == 200
    session.headers.update(
        {"X-CSRFToken": session.cookies[settings.CSRF_COOKIE_NAME], "HX-Request": "true"}
    )
    return session


def clone(session: requests.Session) -> requests.Session:
    copy = requests.Session()
    copy.cookies.update(session.cookies)
    copy.headers.update(session.headers)
    return copy


def classify(text: str) -> str:
    if "Scope busy" in text:
        return "scope_busy"
    if "Already running" in text:
        return "deduplicated"
    if "queued" in text:
        return "created"
    return "other"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_it_keeps_exactly_one_active_run_under_concurrent_starts(live_server, acme, alice, bob):
    conn = make_connection(acme, alice)
    scope = scope_key_for(conn)
    people = [signed_in_session(live_server, alice), signed_in_session(live_server, bob)]
    sessions = [clone(people[i % 2]) for i in range(REQUESTS_PER_ROUND)]  # one per thread
    url = f"{live_server.url}/w/acme/connections/{conn.pk}/run/{{}}/"
    round_seconds = []

    with ThreadPoolExecutor(max_workers=REQUESTS_PER_ROUND) as pool:
        for round_no in range(ROUNDS):
            barrier = threading.Barrier(REQUESTS_PER_ROUND)
            # Mostly one type, with the other two mixed in; which type leads rotates per round.
            wanted = [
                TYPES[round_no % 3] if i % 5 else TYPES[(round_no + i) % 3]
                for i in range(REQUESTS_PER_ROUND)
            ]

            def press(
                i: int, wanted: list[str] = wanted, barrier: threading.Barrier = barrier
            ) -> tuple[str, int, str]:
                barrier.wait(timeout=30)
                response = sessions[i].post(url.format(wanted[i]), timeout=60)
                return wanted[i], response.status_code, response.text

            began = time.monotonic()
            answers = list(pool.map(press, range(REQUESTS_PER_ROUND)))
            round_seconds.append(time.monotonic() - began)

            statuses = Counter(status for _, status, _ in answers)
            assert statuses == {200: REQUESTS_PER_ROUND}, (round_no, statuses, answers[:3])
            active = list(OperationRun.objects.filter(scope_key=scope, status__in=ACTIVE_STATUSES))
            assert len(active) == 1, (round_no, active)
            run = active[0]
            outcomes = Counter(classify(text) for _, _, text in answers)
            assert outcomes["created"] == 1, (round_no, outcomes)
            assert outcomes["other"] == 0, (
                round_no,
                [t for _, _, t in answers if classify(t) == "other"][:3],
            )
            for operation_type, _, text in answers:
                expected = (
                    {"created", "deduplicated"}
                    if operation_type == run.operation_type
                    else {"scope_busy"}
                )
                assert classify(text) in expected, (
                    round_no,
                    operation_type,
                    run.operation_type,
                    text,
                )
                assert f"/w/acme/runs/{run.pk}/" in text  # every answer links to the active run
            assert OperationRun.objects.filter(scope_key=scope).count() == round_no + 1

            # End the run so the next round starts on a free scope.
            OperationRun.objects.filter(pk=run.pk).update(status=RunStatus.CANCELLED)

    print(
        f"\nrace on {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}: "
        f"{ROUNDS} rounds x {REQUESTS_PER_ROUND} requests, round median {statistics.median(round_seconds):.2f}s, "
        f"max {max(round_seconds):.2f}s, total {sum(round_seconds):.1f}s"
    )
