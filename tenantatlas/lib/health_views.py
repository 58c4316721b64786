"""Liveness and readiness for load balancers and orchestrators. No sign-in, no secrets.

``/healthz`` answers as long as the process serves requests (it touches nothing else), so a
database outage does not get every web process restarted. ``/readyz`` asks the dependencies a
request needs: the database and, with the RQ transport, Redis. A failing check is named in a
503 answer; the exception class goes to the body, its message (which may hold a host or a
password from a URL) only to the sanitized server log.

Apps above lib add what they know to a ready answer (``register_readiness_report``: the
observability app reports the workers and the queue). A report informs, it never makes a
process unready: a web process serves pages whatever the workers do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import redis
from django.conf import settings
from django.db import connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)

REDIS_TIMEOUT_SECONDS = 2.0
_RESERVED_KEYS = frozenset({"status", "checks", "failing"})
_reports: list[Callable[[], dict[str, Any]]] = []


def register_readiness_report(report: Callable[[], dict[str, Any]]) -> None:
    """Add ``report()``'s keys to every ``/readyz`` answer whose database check passed."""
    if report not in _reports:
        _reports.append(report)


def _reported() -> dict[str, Any]:
    body: dict[str, Any] = {}
    for report in _reports:
        try:
            fields = report()
        except Exception:  # a report informs; it never fails the probe
            logger.warning("Readiness report %s failed", report.__name__, exc_info=True)
            continue
        body.update({key: value for key, value in fields.items() if key not in _RESERVED_KEYS})
    return body


def check_database() -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_redis() -> None:
    client = redis.Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
    )
    try:
        client.ping()
    finally:
        client.close()


def readiness_checks() -> dict[str, Callable[[], None]]:
    """What this process needs to serve requests and start operations, by name."""
    checks: dict[str, Callable[[], None]] = {"database": check_database}
    if settings.TASK_TRANSPORT == "rq":
        checks["redis"] = check_redis
    return checks


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    results: dict[str, str] = {}
    failing: list[str] = []
    for name, check in readiness_checks().items():
        try:
            check()
        except Exception as exc:  # any failure means "not ready", said by name
            logger.warning("Readiness check %s failed", name, exc_info=True)
            results[name] = f"failed: {type(exc).__name__}"
            failing.append(name)
        else:
            results[name] = "ok"
    reports = _reported() if "database" not in failing else {}
    if failing:
        body = {"status": "unavailable", "failing": failing, "checks": results, **reports}
        return JsonResponse(body, status=503)
    return JsonResponse({"status": "ok", "checks": results, **reports})
