"""Read ahead one Graph page while the caller stores the current one.

An inventory sync alternates between waiting on Graph (TLS read, JSON parse) and waiting on the
database (bulk upsert). Fetching page n+1 in a helper thread while page n is written overlaps
the two, with at most one page waiting in between, so memory stays bounded by the page size.

The helper thread runs in a copy of the caller's context: the run's redaction scope (a
context variable) covers what it logs. It touches Graph only, never the run's data (with the
Graph budget on its database store, a request takes its turn over the budget's own connection,
outside any transaction of the run's). Errors it
meets (``ProviderError``, ``RetryLater``, anything) are raised in the caller, in order.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Iterator

_END = object()
_POLL_SECONDS = 0.1
_JOIN_SECONDS = 120.0


def read_ahead[T](pages: Iterator[T]) -> Iterator[T]:
    """Yield what ``pages`` yields, fetching the next item in the background."""
    slot: queue.Queue[tuple[object, BaseException | None]] = queue.Queue(maxsize=1)
    stopped = threading.Event()

    def hand_over(item: tuple[object, BaseException | None]) -> bool:
        while not stopped.is_set():
            try:
                slot.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for page in pages:
                if not hand_over((page, None)):
                    return  # the caller stopped early (cancelled run, failure)
        except BaseException as exc:
            hand_over((_END, exc))
            return
        hand_over((_END, None))

    context = contextvars.copy_context()
    thread = threading.Thread(
        target=context.run, args=(produce,), name="graph-read-ahead", daemon=True
    )
    thread.start()
    try:
        while True:
            item, error = slot.get()
            if item is _END:
                if error is not None:
                    raise error
                return
            yield item  # type: ignore[misc]
    finally:
        stopped.set()
        # Let a request already in flight finish here, so nothing of this run reaches Graph
        # after the caller has moved on (bounded by the client's own request timeout).
        thread.join(timeout=_JOIN_SECONDS)
