"""Where the Graph budget's buckets live: each call atomic across every worker of the store.

* :class:`DatabaseStore`: a row per bucket in ``graph_budget_bucket``;
* :class:`RedisStore`: a hash per bucket, updated by one Lua script (``buckets.lua``);
* :class:`MemoryStore`: this process only (tests, and the reference for the other two).

A failure of the database or of Redis is :class:`StoreUnavailable`; the pacer then lets the
request go unpaced rather than stop the run.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from django.db import DatabaseError, connections

from tenantatlas.graph.budget.buckets import (
    DECREASE,
    MIN_FACTOR,
    Bucket,
    Limit,
    Reservation,
    reserve,
    throttle,
)

_LUA = (Path(__file__).parent / "buckets.lua").read_text()


class StoreUnavailable(Exception):
    """The budget's store could not be reached (its database or Redis failed)."""


class BudgetStore(Protocol):
    """Where the buckets live; every call is atomic across all workers using the store."""

    def reserve(
        self, keys: Sequence[str], limits: Sequence[Limit], max_wait: float, recovery: float
    ) -> Reservation: ...

    def throttle(self, key: str, limit: Limit, seconds: float, recovery: float) -> None: ...

    def close(self) -> None: ...


class MemoryStore:
    """Buckets in this process only (tests, and the reference the other stores must match)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.buckets: dict[str, Bucket] = {}
        self._lock = threading.Lock()

    def reserve(
        self, keys: Sequence[str], limits: Sequence[Limit], max_wait: float, recovery: float
    ) -> Reservation:
        with self._lock:
            now = self.clock()
            current = [self.buckets.get(key, Bucket(0.0, 0.0)) for key in keys]
            states, turn = reserve(current, limits, now, max_wait, recovery)
            self.buckets.update(zip(keys, states, strict=True))
            return turn

    def throttle(self, key: str, limit: Limit, seconds: float, recovery: float) -> None:
        with self._lock:
            now = self.clock()
            bucket = self.buckets.get(key, Bucket(0.0, 0.0))
            self.buckets[key] = throttle(bucket, limit, now, seconds, recovery)

    def close(self) -> None:
        pass


class DatabaseStore:
    """Buckets as rows of ``graph_budget_bucket``, each call one short transaction.

    It runs on a connection of its own (shared by the process's threads under a lock, in
    autocommit outside any transaction of the caller's), so a bucket's row is never held
    locked longer than one call, whatever the worker is doing. PostgreSQL locks the rows with
    ``SELECT … FOR UPDATE`` and counts time on the database server's clock (workers on several
    machines share it); SQLite (one machine) takes its write lock with ``BEGIN IMMEDIATE``.
    """

    table = "graph_budget_bucket"

    def __init__(self, alias: str = "default", clock: Callable[[], float] | None = None) -> None:
        self.alias = alias
        self.clock = clock
        self._lock = threading.Lock()
        self._connection: Any = None

    def reserve(
        self, keys: Sequence[str], limits: Sequence[Limit], max_wait: float, recovery: float
    ) -> Reservation:
        def work(cursor: Any, rows: dict[str, Bucket], now: float) -> tuple[Any, Reservation]:
            current = [rows[key] for key in keys]
            states, turn = reserve(current, limits, now, max_wait, recovery)
            return dict(zip(keys, states, strict=True)), turn

        return self._locked(keys, work)

    def throttle(self, key: str, limit: Limit, seconds: float, recovery: float) -> None:
        def work(cursor: Any, rows: dict[str, Bucket], now: float) -> tuple[Any, None]:
            return {key: throttle(rows[key], limit, now, seconds, recovery)}, None

        self._locked([key], work)

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    # -- internals --

    def _locked[R](
        self,
        keys: Sequence[str],
        work: Callable[[Any, dict[str, Bucket], float], tuple[dict[str, Bucket], R]],
    ) -> R:
        with self._lock:
            try:
                connection = self._connect()
                with connection.cursor() as cursor:
                    postgres = connection.vendor == "postgresql"
                    cursor.execute("BEGIN" if postgres else "BEGIN IMMEDIATE")
                    try:
                        rows, now = self._select(cursor, keys, postgres)
                        states, result = work(cursor, rows, now)
                        self._update(cursor, states)
                    except BaseException:
                        cursor.execute("ROLLBACK")
                        raise
                    cursor.execute("COMMIT")
                    return result
            except DatabaseError as exc:
                self._drop_connection()
                raise StoreUnavailable(f"database: {type(exc).__name__}") from exc

    def _connect(self) -> Any:
        if self._connection is None:
            connection = connections.create_connection(self.alias)
            connection.inc_thread_sharing()  # the store's lock serialises its threads
            if connection.vendor == "postgresql":
                # A bucket's last few turns are not worth a disk flush per request: after a
                # crash the row is at worst a moment old (SQLite's WAL with synchronous=NORMAL
                # already commits without one).
                with connection.cursor() as cursor:
                    cursor.execute("SET synchronous_commit = off")
            self._connection = connection
        return self._connection

    def _drop_connection(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(DatabaseError):
                self._connection.close()
            self._connection = None

    def _select(
        self, cursor: Any, keys: Sequence[str], postgres: bool
    ) -> tuple[dict[str, Bucket], float]:
        marks = ", ".join(["%s"] * len(keys))
        clock = "EXTRACT(EPOCH FROM clock_timestamp())::float8" if postgres else "0"
        query = (
            f'SELECT "key", tokens, counted_at, factor, {clock} FROM {self.table} '  # noqa: S608
            f'WHERE "key" IN ({marks}) ORDER BY "key"' + (" FOR UPDATE" if postgres else "")
        )
        cursor.execute(query, list(keys))
        found = cursor.fetchall()
        if len(found) < len(set(keys)):
            values = ", ".join(["(%s, 0, 0, 1)"] * len(keys))
            cursor.execute(
                f'INSERT INTO {self.table} ("key", tokens, counted_at, factor) '  # noqa: S608
                f'VALUES {values} ON CONFLICT ("key") DO NOTHING',
                list(keys),
            )
            cursor.execute(query, list(keys))
            found = cursor.fetchall()
        rows = {
            key: Bucket(tokens, counted_at, factor) for key, tokens, counted_at, factor, _ in found
        }
        if self.clock is not None:
            now = self.clock()
        elif postgres:
            now = float(found[0][4])
        else:
            now = time.time()
        return rows, now

    def _update(self, cursor: Any, states: dict[str, Bucket]) -> None:
        keys = list(states)
        cases = {
            column: " ".join(["WHEN %s THEN %s"] * len(keys))
            for column in ("tokens", "counted_at", "factor")
        }
        params: list[Any] = []
        for column in ("tokens", "counted_at", "factor"):
            for key in keys:
                params += [key, getattr(states[key], column)]
        marks = ", ".join(["%s"] * len(keys))
        cursor.execute(
            f"UPDATE {self.table} SET "  # noqa: S608
            + ", ".join(f'{column} = CASE "key" {cases[column]} END' for column in cases)
            + f' WHERE "key" IN ({marks})',
            [*params, *keys],
        )


class RedisStore:
    """Buckets as Redis hashes (``tenantatlas:graph-budget:<key>``), each call one Lua script
    on Redis's own clock (``TIME``). Idle buckets expire once they would be full again."""

    prefix = "tenantatlas:graph-budget:"

    def __init__(self, url: str, clock: Callable[[], float] | None = None) -> None:
        import redis

        self.clock = clock
        self._redis = redis.Redis.from_url(url)
        self._script = self._redis.register_script(_LUA)
        self._errors: tuple[type[Exception], ...] = (redis.RedisError, OSError)

    def reserve(
        self, keys: Sequence[str], limits: Sequence[Limit], max_wait: float, recovery: float
    ) -> Reservation:
        sizes = [value for limit in limits for value in (limit.capacity, limit.rate)]
        granted, wait, limiting, now = self._run(
            keys, ["reserve", recovery, self._now(), max_wait, *sizes]
        )
        return Reservation(bool(granted), float(wait), int(limiting), float(now))

    def throttle(self, key: str, limit: Limit, seconds: float, recovery: float) -> None:
        args = [recovery, self._now(), limit.capacity, limit.rate, seconds, MIN_FACTOR, DECREASE]
        self._run([key], ["throttle", *args])

    def bucket(self, key: str) -> Bucket | None:
        """A bucket as stored (for tests and diagnostics)."""
        values: list[Any] = self._redis.hmget(self.prefix + key, "tokens", "counted_at", "factor")
        if values[0] is None:
            return None
        return Bucket(*(float(value) for value in values))

    def close(self) -> None:
        self._redis.close()

    def _now(self) -> str:
        return "" if self.clock is None else repr(self.clock())

    def _run(self, keys: Sequence[str], args: list[Any]) -> Any:
        try:
            return self._script(keys=[self.prefix + key for key in keys], args=args)
        except self._errors as exc:
            raise StoreUnavailable(f"redis: {type(exc).__name__}") from exc
