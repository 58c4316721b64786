"""Per-tenant fault counters: "the first N matching requests fail" (or are cut off).

Counters live outside the scenario objects so a scenario stays a description and the
server can restore it on ``reset()``. Every decrement happens under one lock: concurrent
workers see exactly ``count`` failures between them.
"""

from __future__ import annotations

import email.utils
import threading
import time
from dataclasses import dataclass

from tenantatlas.simulator.scenarios import Faults


def path_matches(path: str, prefixes: list[str]) -> bool:
    """Empty prefixes match every path; otherwise any prefix must match (case-insensitive)."""
    lowered = path.lower()
    return not prefixes or any(lowered.startswith(prefix.lower()) for prefix in prefixes)


def retry_after_header(spec: str | None) -> str | None:
    """Render a ``Retry-After`` value: ``"2"``, ``"2.128"`` or ``"http-date:<seconds>"``."""
    if spec is None or spec == "":
        return None
    if spec.startswith("http-date:"):
        seconds = float(spec.removeprefix("http-date:"))
        return email.utils.formatdate(time.time() + seconds, usegmt=True)
    return spec


@dataclass
class Injected:
    """A fault to apply to one request."""

    status: int
    retry_after: str | None


class FaultCounters:
    """Remaining throttle, server-error and malformed-answer budgets, per tenant id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._throttle: dict[str, int] = {}
        self._server_errors: dict[str, int] = {}
        self._malformed: dict[str, int] = {}

    def arm(self, tenant_id: str, faults: Faults) -> None:
        """(Re)load a tenant's counters from its scenario."""
        with self._lock:
            self._throttle[tenant_id.lower()] = faults.throttle.count
            self._server_errors[tenant_id.lower()] = faults.server_errors.count
            self._malformed[tenant_id.lower()] = faults.malformed_json_count

    def forget(self, tenant_id: str) -> None:
        with self._lock:
            self._throttle.pop(tenant_id.lower(), None)
            self._server_errors.pop(tenant_id.lower(), None)
            self._malformed.pop(tenant_id.lower(), None)

    def remaining_malformed(self, tenant_id: str) -> int:
        """Cut-off answers still to come when ``malformed_json_count`` limits them."""
        with self._lock:
            return self._malformed.get(tenant_id.lower(), 0)

    def take_malformed(self, tenant_id: str, faults: Faults, path: str) -> bool:
        """Whether this (successful) answer is cut off, consuming one unit of a limited budget."""
        if not faults.malformed_json_paths or not path_matches(path, faults.malformed_json_paths):
            return False
        if faults.malformed_json_count <= 0:
            return True  # permanent
        key = tenant_id.lower()
        with self._lock:
            if self._malformed.get(key, 0) <= 0:
                return False
            self._malformed[key] -= 1
            return True

    def remaining(self, tenant_id: str) -> tuple[int, int]:
        """(throttle, server error) failures still to come."""
        with self._lock:
            key = tenant_id.lower()
            return self._throttle.get(key, 0), self._server_errors.get(key, 0)

    def take(self, tenant_id: str, faults: Faults, path: str) -> Injected | None:
        """The fault this request suffers, if any, consuming one unit of its budget."""
        key = tenant_id.lower()
        with self._lock:
            throttle = faults.throttle
            if self._throttle.get(key, 0) > 0 and path_matches(path, throttle.paths):
                self._throttle[key] -= 1
                return Injected(throttle.status, throttle.retry_after)
            errors = faults.server_errors
            if self._server_errors.get(key, 0) > 0 and path_matches(path, errors.paths):
                self._server_errors[key] -= 1
                return Injected(errors.status, errors.retry_after)
        return None
