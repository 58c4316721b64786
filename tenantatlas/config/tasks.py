"""Task transport settings: operation time limits, Redis URLs, the task backend per transport."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.core.exceptions import ImproperlyConfigured

from tenantatlas.lib.env import EnvError, envint


def operation_timeout(key: str, default: int) -> int:
    """An operation type's time limit: TENANTATLAS_OPERATION_TIMEOUT_<TYPE>, else ``default``."""
    name = "TENANTATLAS_OPERATION_TIMEOUT_" + key.upper().replace(".", "_")
    seconds = envint(name, default)
    if seconds <= 0:
        raise EnvError(f"{name}={seconds!r} must be a positive number of seconds")
    return seconds


def bounded_redis_url(url: str) -> str:
    """A start must not hang on an unreachable Redis: bound connecting and each command."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.setdefault("socket_connect_timeout", "3")
    query.setdefault("socket_timeout", "10")
    return urlunsplit(parts._replace(query=urlencode(query)))


_BACKENDS = {
    "database": "django_tasks_db.DatabaseBackend",
    "rq": "tenantatlas.operations.rq_backend.PrioritisingRQBackend",
    "immediate": "django.tasks.backends.immediate.ImmediateBackend",
}


def task_backends(transport: str, queues: list[str]) -> dict[str, dict[str, object]]:
    """``TASKS`` for the transport: database (default), rq (Redis) or immediate."""
    if transport not in _BACKENDS:
        raise ImproperlyConfigured(
            f"TENANTATLAS_TASK_TRANSPORT={transport!r}: use database, rq or immediate"
        )
    return {"default": {"BACKEND": _BACKENDS[transport], "QUEUES": queues}}


def rq_queues(queues: list[str], redis_url: str, job_timeout: int) -> dict[str, dict[str, object]]:
    """``RQ_QUEUES`` of the rq transport: every queue on the one (bounded) Redis."""
    return {
        name: {"URL": bounded_redis_url(redis_url), "DEFAULT_TIMEOUT": job_timeout}
        for name in queues
    }
