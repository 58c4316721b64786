"""The Graph budget's arithmetic: token buckets whose rate a 429 halves and time restores.

Pure functions of a bucket's state and the store's clock; every store applies exactly these
(the Redis store as ``buckets.lua``, line for line; ``test_budget.py`` compares them).

A bucket holds at most ``capacity`` tokens and refills at ``rate`` per second times its
``factor``. A request reserves a token from each of its buckets: when one is short the
reservation takes a turn in the future (its tokens go negative) at the exact moment refilling
covers it, so turns never come faster than the limit allows, however many workers ask.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

MIN_FACTOR = 0.1  # a bucket never slows below a tenth of its rate
DECREASE = 0.5  # a 429 halves the rate


@dataclass(frozen=True)
class Limit:
    """What one bucket lets through: ``capacity`` tokens at once, then ``rate`` per second."""

    capacity: float
    rate: float

    @classmethod
    def per_window(cls, requests: int, seconds: float, burst: float) -> Limit:
        """At most ``requests`` in any ``seconds``, ``burst`` of them (a share) at once."""
        capacity = float(max(1, int(requests * burst)))
        return cls(capacity, max(requests - capacity, 1.0) / seconds)


@dataclass(frozen=True)
class Bucket:
    """A bucket's state: tokens when counted (negative: turns reserved ahead), when that was
    (in the future while a 429 blocks it) and the share of the rate it refills at."""

    tokens: float
    counted_at: float
    factor: float = 1.0


@dataclass(frozen=True)
class Reservation:
    """The answer to a request for a turn: ``wait`` seconds from ``at`` (the store's clock);
    ``granted`` False when that is longer than allowed (nothing was reserved). ``limiting`` is
    the index of the bucket that waits longest."""

    granted: bool
    wait: float
    limiting: int
    at: float


def _accrued(limit: Limit, factor: float, seconds: float, recovery: float) -> float:
    """Tokens refilled over ``seconds`` while the factor climbs linearly from ``factor`` to 1."""
    if factor >= 1.0:
        return limit.rate * seconds
    climb = (1.0 - factor) * recovery
    if seconds <= climb:
        return limit.rate * seconds * (factor + seconds / (2.0 * recovery))
    return limit.rate * (climb * (factor + 1.0) / 2.0 + (seconds - climb))


def refilled(bucket: Bucket, limit: Limit, now: float, recovery: float) -> Bucket:
    """The bucket counted again at ``now`` (unchanged while it is blocked)."""
    if now <= bucket.counted_at:
        return bucket
    elapsed = now - bucket.counted_at
    tokens = bucket.tokens + _accrued(limit, bucket.factor, elapsed, recovery)
    factor = min(1.0, bucket.factor + elapsed / recovery)
    return Bucket(min(limit.capacity, tokens), now, factor)


def _seconds_to_accrue(limit: Limit, factor: float, needed: float, recovery: float) -> float:
    """How long refilling takes to bring ``needed`` tokens (the inverse of ``_accrued``)."""
    if needed <= 0:
        return 0.0
    if factor >= 1.0:
        return needed / limit.rate
    climb = (1.0 - factor) * recovery
    during_climb = limit.rate * climb * (factor + 1.0) / 2.0
    if needed <= during_climb:
        # rate·x·(factor + x / 2·recovery) = needed, solved for x without cancellation
        root = math.sqrt(factor * factor + 2.0 * needed / (limit.rate * recovery))
        return 2.0 * needed / (limit.rate * (factor + root))
    return climb + (needed - during_climb) / limit.rate


def _turn(bucket: Bucket, limit: Limit, now: float, recovery: float) -> float:
    """Seconds from ``now`` until a bucket that has just given a token has it covered."""
    start = max(now, bucket.counted_at)
    return start - now + _seconds_to_accrue(limit, bucket.factor, -bucket.tokens, recovery)


def reserve(
    buckets: Sequence[Bucket],
    limits: Sequence[Limit],
    now: float,
    max_wait: float,
    recovery: float,
) -> tuple[list[Bucket], Reservation]:
    """One token from every bucket, granted only when the longest wait is within ``max_wait``.

    Returns the states to store (reserved when granted, merely counted again otherwise)."""
    counted = [refilled(b, lim, now, recovery) for b, lim in zip(buckets, limits, strict=True)]
    taken = [replace(bucket, tokens=bucket.tokens - 1.0) for bucket in counted]
    waits = [_turn(bucket, lim, now, recovery) for bucket, lim in zip(taken, limits, strict=True)]
    wait = max(waits)
    limiting = waits.index(wait)
    granted = wait <= max_wait
    return (taken if granted else counted), Reservation(granted, wait, limiting, now)


def throttle(bucket: Bucket, limit: Limit, now: float, seconds: float, recovery: float) -> Bucket:
    """The bucket after a 429 that asked for ``seconds``: blocked until then, refilling from
    nothing at half its rate. A 429 that arrives while the bucket is blocked belongs to the same
    episode (its request was already in flight): it only extends the block."""
    counted = refilled(bucket, limit, now, recovery)
    until = now + max(seconds, 0.0)
    if counted.counted_at > now:
        return replace(counted, counted_at=max(counted.counted_at, until))
    factor = max(MIN_FACTOR, counted.factor * DECREASE)
    return Bucket(min(counted.tokens, 0.0), until, factor)
