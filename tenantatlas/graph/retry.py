"""Retry policy for Graph: honour Retry-After, else exponential backoff with full jitter.

Graph answers 429 (and 502/503/504) with a ``Retry-After`` that may be an integer, a fraction
(Microsoft's own sample says ``2.128``) or an HTTP date. We honour it exactly; without it we back
off exponentially with *full* jitter (uniform between 0 and the exponential cap) so many workers
throttled together do not retry in lockstep. Attempts and the total wait are bounded: throttling
ends as ``graph.throttled``, never as an endless loop. A Retry-After longer than a worker may
block becomes :class:`~tenantatlas.lib.reasons.RetryLater` so the run is rescheduled instead.
Network errors, timeouts and a 2xx whose body is not a JSON object (a page cut off in transit)
are retried with the same backoff and budget; a page that stays malformed ends as
``graph.invalid_response``.

The loop is our own rather than ``stamina.retry`` because tests must drive the sleep and the
clock exactly, and the wait depends on the response (Retry-After), which stamina's backoff hook
cannot see without smuggling the response through an exception. It still speaks stamina's
language: ``stamina.set_active(False)`` switches Graph retries off with every other retry in the
process, and each scheduled retry is announced to stamina's instrumentation hooks (logging,
structlog, Prometheus — whatever the deployment configured).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import stamina
from stamina.instrumentation import RetryDetails, get_on_retry_hooks

RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds, fractional, or HTTP date)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - now).total_seconds()
    if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN/inf: ignore
        return None
    return max(seconds, 0.0)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry; all bounds come from settings."""

    max_attempts: int = 6
    max_total_wait: float = 120.0
    max_inline_retry_after: float = 60.0
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    jitter: Callable[[float, float], float] = field(default=random.uniform, repr=False)

    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff after the ``attempt``-th failed try (1-based)."""
        return self.jitter(0.0, self.backoff_ceiling(attempt))

    def backoff_ceiling(self, attempt: int) -> float:
        """The longest wait ``backoff`` may draw after the ``attempt``-th failed try."""
        return min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))


def retries_active() -> bool:
    """False when retrying is switched off process-wide (``stamina.set_active(False)``)."""
    return stamina.is_active()


def announce_retry(
    name: str, *, retry_num: int, wait_for: float, waited_so_far: float, cause: Exception
) -> ExitStack:
    """Tell stamina's instrumentation hooks about a scheduled retry.

    Hooks may return context managers that should span the wait; the returned stack holds them.
    Only the contract name and numbers are passed: never URLs, headers or tokens.
    """
    stack = ExitStack()
    details = RetryDetails(
        name=name,
        args=(),
        kwargs={},
        retry_num=retry_num,
        wait_for=wait_for,
        waited_so_far=waited_so_far,
        caused_by=cause,
    )
    for hook in get_on_retry_hooks():
        context = hook(details)
        if context is not None:
            stack.enter_context(context)
    return stack
