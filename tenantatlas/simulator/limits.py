"""Microsoft Graph's throttling limits, enforced when a scenario asks for them (off by default).

Microsoft evaluates every request against several limits at once and throttles at the first one
reached (docs/microsoft-facts.md, "Throttling limits"). The simulator can do the same for three
scopes: per app per tenant and per tenant for all apps (Intune: 1,000 and 2,000 requests per 20
seconds for most areas) and per app across all tenants (Graph: 130,000 per 10 seconds).

Each scope counts in a sliding window: a request is admitted when fewer than ``requests``
requests of its scope arrived in the last ``seconds``. Refused requests count too ("all requests
accrue against your usage limits"), so a client that retries at once stays throttled. A refusal
is Graph's 429 ``TooManyRequests`` with a fractional ``Retry-After`` (Microsoft's sample says
``2.128``): the seconds until the window would admit the request.

Every Graph request is also counted per (app, tenant), limits on or off: ``usage()`` tells tests
how many requests a pair sent and how many of them got 429.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from tenantatlas.simulator import errors
from tenantatlas.simulator.errors import Reply, TokenRejected

_LOG_CAP = 4  # a scope keeps at most this many times its limit of arrivals


@dataclass(frozen=True)
class Window:
    """At most ``requests`` in any ``seconds``."""

    requests: int
    seconds: float


@dataclass(frozen=True)
class GraphLimits:
    """The limits per scope; None leaves a scope unlimited. Defaults are Microsoft's."""

    app_tenant: Window | None = field(default_factory=lambda: Window(1000, 20.0))
    tenant: Window | None = field(default_factory=lambda: Window(2000, 20.0))
    app: Window | None = field(default_factory=lambda: Window(130_000, 10.0))


@dataclass
class Usage:
    """What one (app, tenant) pair sent: Graph requests, 429s among them (for any reason) and
    the 429s the limits gave."""

    requests: int = 0
    throttled: int = 0
    limited: int = 0


class LimitsError(ValueError):
    """A ``[limits]`` table the simulator cannot use."""


def parse_limits(raw: dict[str, Any], where: str = "limits") -> GraphLimits:
    """GraphLimits from a TOML table: ``app_tenant``, ``tenant``, ``app``, each
    ``{requests = N, seconds = S}`` or ``false`` (unlimited); a scope left out keeps its
    default."""
    known = {f.name for f in fields(GraphLimits)}
    unknown = set(raw) - known
    if unknown:
        raise LimitsError(f"{where}: unknown scope(s) {', '.join(sorted(unknown))}")
    scopes: dict[str, Window | None] = {}
    for name, value in raw.items():
        if value is False:
            scopes[name] = None
            continue
        if not isinstance(value, dict) or set(value) != {"requests", "seconds"}:
            raise LimitsError(f"{where}.{name}: use {{requests = N, seconds = S}} or false")
        requests, seconds = value["requests"], value["seconds"]
        if not isinstance(requests, int) or requests < 1 or not isinstance(seconds, int | float):
            raise LimitsError(f"{where}.{name}: requests must be 1 or more, seconds a number")
        if seconds <= 0:
            raise LimitsError(f"{where}.{name}: seconds must be positive")
        scopes[name] = Window(requests, float(seconds))
    return GraphLimits(**scopes)


class Limiter:
    """Admits or throttles Graph requests per scope; counts every pair's requests."""

    def __init__(
        self,
        claims: Callable[[str], dict[str, Any]],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._claims = claims  # the token's claims, or an exception for a token Graph refuses
        self._clock = clock
        self._lock = threading.Lock()
        self.limits: GraphLimits | None = None
        self._arrivals: dict[tuple[str, ...], deque[float]] = {}
        self._usage: dict[tuple[str, str], Usage] = {}

    def configure(self, limits: GraphLimits | None) -> None:
        """Enforce ``limits`` from now on (None: off); windows start empty."""
        with self._lock:
            self.limits = limits
            self._arrivals.clear()

    def reset(self, limits: GraphLimits | None) -> None:
        """``configure`` and forget every pair's usage."""
        self.configure(limits)
        with self._lock:
            self._usage.clear()

    def check(self, headers: dict[str, str]) -> tuple[Reply, str, str] | None:
        """Graph's 429 (with the tenant and client it was for) when the request is over a
        limit; None when it may go on (limits off, or a token Graph will refuse with 401)."""
        if self.limits is None:
            return None
        auth = headers.get("authorization", "")
        try:
            claims = self._claims(auth[7:].strip() if auth[:7].lower() == "bearer " else "")
        except TokenRejected:
            return None  # not a token Graph accepts: the Graph service answers 401
        tenant_id = str(claims.get("tid", "")).lower()
        client_id = str(claims.get("appid", "")).lower()
        wait = self._admit(client_id, tenant_id)
        if wait is None:
            return None
        with self._lock:
            self._usage.setdefault((client_id, tenant_id), Usage()).limited += 1
        return _throttled(wait, headers.get("client-request-id")), tenant_id, client_id

    def count(self, client_id: str | None, tenant_id: str | None, status: int) -> None:
        """One Graph request answered ``status`` for the pair."""
        if not client_id or not tenant_id:
            return
        with self._lock:
            usage = self._usage.setdefault((client_id.lower(), tenant_id.lower()), Usage())
            usage.requests += 1
            usage.throttled += status == 429

    def usage(self, client_id: str, tenant_id: str) -> Usage:
        with self._lock:
            found = self._usage.get((client_id.lower(), tenant_id.lower()), Usage())
            return Usage(found.requests, found.throttled, found.limited)

    def all_usage(self) -> dict[tuple[str, str], Usage]:
        """(client id, tenant id) → usage, for every pair that sent anything."""
        with self._lock:
            return {
                pair: Usage(u.requests, u.throttled, u.limited) for pair, u in self._usage.items()
            }

    def _admit(self, client_id: str, tenant_id: str) -> float | None:
        """None when admitted, else the seconds until the fullest window would admit it."""
        limits = self.limits
        assert limits is not None
        scopes = [
            (("app_tenant", client_id, tenant_id), limits.app_tenant),
            (("tenant", tenant_id), limits.tenant),
            (("app", client_id), limits.app),
        ]
        with self._lock:
            now = self._clock()
            logs = []
            for key, window in scopes:
                if window is None:
                    continue
                log = self._arrivals.setdefault(key, deque())
                while log and log[0] <= now - window.seconds:
                    log.popleft()
                logs.append((log, window, len(log) >= window.requests))
            for log, window, _ in logs:  # refused or not, the request counts
                if len(log) < window.requests * _LOG_CAP:
                    log.append(now)
            # Over a limit: admitted again once all but requests - 1 of the arrivals counted
            # (this one included) have left the window.
            waits = [
                log[len(log) - window.requests] + window.seconds - now
                for log, window, over in logs
                if over
            ]
        return max(waits) if waits else None


def _throttled(wait: float, client_request_id: str | None) -> Reply:
    """Graph's throttling answer (docs/microsoft-facts.md): 429, Retry-After in seconds."""
    inner = {"code": "429", "message": "Please retry after", "status": "429"}
    return errors.graph_error(
        429,
        "TooManyRequests",
        "Please retry again later.",
        client_request_id=client_request_id,
        inner=inner,
        headers={"Retry-After": f"{max(wait, 0.001):.3f}"},
    )
