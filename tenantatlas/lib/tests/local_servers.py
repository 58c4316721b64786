"""Local PostgreSQL and Redis for tests that need the real services.

Missing services skip such a test on a developer machine, but fail it in CI (``CI`` set): a
suite that silently skips its production checks proves nothing.
"""

from __future__ import annotations

import os
from typing import Any

import psycopg
import pytest

POSTGRES_ADMIN_URL = os.environ.get(
    "TENANTATLAS_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"
)
REDIS_TEST_URL_BASE = os.environ.get("TENANTATLAS_TEST_REDIS_URL", "redis://127.0.0.1:6379")


def unavailable(what: str, exc: BaseException) -> None:
    """Skip locally, fail in CI."""
    message = f"{what} is not reachable ({type(exc).__name__}: {exc})"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI must provide it")
    pytest.skip(message)


def redis_url(db: int) -> str:
    """A Redis URL for logical database ``db``, after checking that Redis answers."""
    import redis

    url = f"{REDIS_TEST_URL_BASE}/{db}"
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        client.ping()
        client.close()
    except redis.RedisError as exc:
        unavailable(f"Redis at {REDIS_TEST_URL_BASE}", exc)
    return url


def postgres_admin_connection() -> psycopg.Connection[Any]:
    """An autocommit psycopg connection to the maintenance database (to create/drop databases)."""
    try:
        return psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        unavailable(f"PostgreSQL at {POSTGRES_ADMIN_URL}", exc)
        raise  # unreachable: unavailable() skips or fails
