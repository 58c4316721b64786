"""The Graph budget: token buckets every worker shares, so many runs together stay under
Microsoft's throttling limits instead of discovering them through 429s.

Microsoft evaluates each request against several limits at once and throttles at the first one
reached (docs/microsoft-facts.md, "Throttling limits"). TenantAtlas paces two of them, both of
which every request must pass:

* one bucket per **(app, Entra tenant)** pair: Intune allows 1,000 requests per 20 seconds per
  app per tenant for most of what TenantAtlas reads (2,000 for devices); one bucket for every
  area is the conservative choice;
* one bucket per **app across all tenants**: Graph's global 130,000 requests per 10 seconds.

A bucket holds at most ``capacity`` tokens and refills at ``rate`` per second, sized so that no
window of the limit's length ever sees more than the limit (``capacity + rate · seconds =
requests``). A request *reserves* a token from each: when one is short the reservation takes a
turn in the future (tokens go negative) and the worker sleeps until then, so waiting workers are
served in order with one round trip each. A wait longer than the worker may block
(``TENANTATLAS_GRAPH_MAX_INLINE_RETRY_AFTER``) reserves nothing and reschedules the run
(``RetryLater``), as a long ``Retry-After`` does.

A 429 shrinks its pair's bucket for every worker: the bucket is blocked until ``Retry-After``
(or a penalty without one) and its rate halves, climbing back linearly to full over the
recovery time. Requests already in flight or holding a turn still go out; everything reserved
afterwards waits.

The arithmetic is pure (``buckets.py``); the stores (``stores.py``) only make it atomic: a row
per bucket in the database (locked for the update: ``SELECT … FOR UPDATE`` on PostgreSQL, an
``IMMEDIATE`` transaction on SQLite) or a Redis hash updated by one Lua script
(``buckets.lua``). A store that cannot be reached never stops a run: the request goes unpaced
and a warning is logged, while Microsoft's 429s and the retry policy still apply.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import jwt
from django.conf import settings

from tenantatlas.graph.budget.buckets import Limit, Reservation
from tenantatlas.graph.budget.stores import (
    BudgetStore,
    DatabaseStore,
    MemoryStore,
    RedisStore,
    StoreUnavailable,
)
from tenantatlas.graph.retry import parse_retry_after
from tenantatlas.lib.reasons import RetryLater

if TYPE_CHECKING:
    import requests

logger = logging.getLogger(__name__)

_WARN_EVERY = 60.0  # seconds between two "store unavailable" warnings of one process


@dataclass(frozen=True)
class BudgetKey:
    """Whose requests a bucket counts: an app (client id) in a cloud, and the Entra tenant."""

    cloud: str
    client_id: str
    tenant_id: str

    @property
    def pair(self) -> str:
        return f"{self.cloud}/{self.client_id}/{self.tenant_id}"

    @property
    def app(self) -> str:
        return f"{self.cloud}/{self.client_id}"


SCOPES = ("tenant", "app")  # the buckets in the order a reservation names them


def key_from_token(cloud: str, token: str) -> BudgetKey | None:
    """The app and tenant an access token was issued for (``appid``/``azp`` and ``tid``): what
    Microsoft itself counts requests by. None when the token says neither (not a JWT)."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    client_id = claims.get("appid") or claims.get("azp")
    tenant_id = claims.get("tid")
    if not isinstance(client_id, str) or not isinstance(tenant_id, str):
        return None
    if not client_id or not tenant_id:
        return None
    return BudgetKey(cloud.lower(), client_id.lower(), tenant_id.lower())


@dataclass(frozen=True)
class GraphBudget:
    """The two limits and how a 429 shrinks them, over one store."""

    store: BudgetStore
    tenant: Limit
    app: Limit
    penalty_seconds: float = 2.0
    recovery_seconds: float = 60.0

    def reserve(self, key: BudgetKey, max_wait: float) -> Reservation:
        return self.store.reserve(
            (key.pair, key.app), (self.tenant, self.app), max_wait, self.recovery_seconds
        )

    def throttled(self, key: BudgetKey, retry_after: float | None) -> None:
        """Microsoft answered 429 for the pair: shrink its bucket for every worker."""
        seconds = self.penalty_seconds if retry_after is None else retry_after
        self.store.throttle(key.pair, self.tenant, seconds, self.recovery_seconds)


class Pacer:
    """What the Graph client asks before each request and tells after a 429."""

    def __init__(
        self,
        budget: GraphBudget | None,
        cloud: str,
        *,
        sleep: Callable[[float], None],
        utcnow: Callable[[], datetime],
        max_wait: float,
    ) -> None:
        self.budget = budget
        self.cloud = cloud
        self._sleep = sleep
        self._utcnow = utcnow
        self.max_wait = max_wait
        self._token: str | None = None
        self._key: BudgetKey | None = None

    def key_for(self, token: str) -> BudgetKey | None:
        if token != self._token:  # tokens change once an hour: decode each once
            self._token, self._key = token, key_from_token(self.cloud, token)
        return self._key

    def take_turn(self, token: str) -> BudgetKey | None:
        """Wait for this request's turn (or raise ``RetryLater`` when it is too far off)."""
        key = self.key_for(token) if self.budget is not None else None
        if self.budget is None or key is None:
            return None
        try:
            turn = self.budget.reserve(key, self.max_wait)
        except StoreUnavailable as exc:
            _warn_unpaced(exc)
            return key
        if not turn.granted:
            scope = SCOPES[turn.limiting]
            raise RetryLater(
                "graph.throttled",
                f"The Graph budget of this {scope} is spent for {turn.wait:.0f}s; rescheduling",
                retry_at=self._utcnow() + timedelta(seconds=turn.wait),
                details={"budget": scope, "budget_wait_seconds": round(turn.wait, 3)},
            )
        if turn.wait > 0:
            self._sleep(turn.wait)
        return key

    def observe(self, key: BudgetKey | None, response: requests.Response) -> None:
        """After the answer: a 429 shrinks the pair's budget (``Retry-After`` when given)."""
        if key is None or self.budget is None or response.status_code != 429:
            return
        retry_after = parse_retry_after(response.headers.get("Retry-After"), now=self._utcnow())
        try:
            self.budget.throttled(key, retry_after)
        except StoreUnavailable as exc:
            _warn_unpaced(exc)


_last_warning = [0.0]


def _warn_unpaced(exc: Exception) -> None:
    now = time.monotonic()
    if now - _last_warning[0] >= _WARN_EVERY or not _last_warning[0]:
        _last_warning[0] = now
        logger.warning("Graph budget store unavailable (%s); requests go unpaced", exc)


# -- the configured budget -------------------------------------------------------------------

_stores: dict[tuple[str, str], BudgetStore] = {}
_stores_lock = threading.Lock()


def configured_budget() -> GraphBudget | None:
    """The budget the settings describe (None with ``TENANTATLAS_GRAPH_BUDGET_STORE=off``);
    one store per process and kind, shared by every client."""
    kind = settings.GRAPH_BUDGET_STORE
    if kind == "off":
        return None
    if kind == "auto":
        kind = "redis" if settings.TASK_TRANSPORT == "rq" else "database"
    where = settings.GRAPH_BUDGET_REDIS_URL if kind == "redis" else "default"
    with _stores_lock:
        store = _stores.get((kind, where))
        if store is None:
            store = RedisStore(where) if kind == "redis" else DatabaseStore(where)
            _stores[(kind, where)] = store
    burst = settings.GRAPH_BUDGET_BURST
    return GraphBudget(
        store,
        tenant=Limit.per_window(
            settings.GRAPH_BUDGET_TENANT_REQUESTS, settings.GRAPH_BUDGET_TENANT_SECONDS, burst
        ),
        app=Limit.per_window(
            settings.GRAPH_BUDGET_APP_REQUESTS, settings.GRAPH_BUDGET_APP_SECONDS, burst
        ),
        penalty_seconds=settings.GRAPH_BUDGET_PENALTY_SECONDS,
        recovery_seconds=settings.GRAPH_BUDGET_RECOVERY_SECONDS,
    )


def close_stores() -> None:
    """Close the configured stores' connections (they reopen on the next request)."""
    with _stores_lock:
        for store in _stores.values():
            store.close()
        _stores.clear()


__all__ = [
    "BudgetKey",
    "BudgetStore",
    "DatabaseStore",
    "GraphBudget",
    "Limit",
    "MemoryStore",
    "Pacer",
    "RedisStore",
    "Reservation",
    "StoreUnavailable",
    "close_stores",
    "configured_budget",
    "key_from_token",
]
