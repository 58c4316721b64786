"""What the Graph client did, for the run context: counts, waits and Microsoft's request ids.

Request ids (``request-id``/``client-request-id``) are what Microsoft support asks for; they are
not secrets. Tokens, URLs with query strings and bodies are never recorded. Memory stays bounded:
per-contract counters grow with the number of contracts, and only the most recent requests are
kept in detail.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class RequestRecord:
    """One logical Graph request, including its retries."""

    contract: str
    attempts: int = 0
    waits: list[float] = field(default_factory=list)
    status: int | None = None
    request_id: str | None = None
    client_request_id: str | None = None
    outcome: str = "ok"  # "ok" or the reason code it failed with


@dataclass
class _ContractTotals:
    requests: int = 0
    attempts: int = 0
    retries: int = 0
    wait_seconds: float = 0.0
    failures: int = 0


class RequestRecorder:
    """Collects :class:`RequestRecord`s and summarizes them as JSON-able data."""

    def __init__(self, keep_recent: int = 25) -> None:
        self.recent: deque[RequestRecord] = deque(maxlen=keep_recent)
        self._totals: dict[str, _ContractTotals] = {}

    def add(self, record: RequestRecord) -> None:
        self.recent.append(record)
        totals = self._totals.setdefault(record.contract, _ContractTotals())
        totals.requests += 1
        totals.attempts += record.attempts
        totals.retries += max(record.attempts - 1, 0)
        totals.wait_seconds += sum(record.waits)
        totals.failures += record.outcome != "ok"

    def summary(self) -> dict[str, Any]:
        """Counts per contract plus the latest requests, ready for ``OperationRun.context``."""
        by_contract = {
            key: {**asdict(t), "wait_seconds": round(t.wait_seconds, 3)}
            for key, t in sorted(self._totals.items())
        }
        return {
            "requests": sum(t.requests for t in self._totals.values()),
            "attempts": sum(t.attempts for t in self._totals.values()),
            "retries": sum(t.retries for t in self._totals.values()),
            "wait_seconds": round(sum(t.wait_seconds for t in self._totals.values()), 3),
            "by_contract": by_contract,
            "recent": [{**asdict(r), "waits": [round(w, 3) for w in r.waits]} for r in self.recent],
        }
