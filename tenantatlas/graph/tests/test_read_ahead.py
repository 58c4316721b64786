"""read_ahead: same pages in the same order, errors in order, early stop, the caller's context."""

from __future__ import annotations

import contextvars
import threading
import time

import pytest

from tenantatlas.graph.read_ahead import read_ahead
from tenantatlas.lib.reasons import ProviderError

marker: contextvars.ContextVar[str] = contextvars.ContextVar("marker", default="unset")


def test_it_yields_every_page_in_order():
    assert list(read_ahead(iter([[1], [2, 3], [], [4]]))) == [[1], [2, 3], [], [4]]
    assert list(read_ahead(iter([]))) == []


def test_it_fetches_the_next_page_while_the_caller_works():
    fetched: list[int] = []

    def pages():
        for n in range(3):
            fetched.append(n)
            yield n

    consumer = read_ahead(pages())
    assert next(consumer) == 0
    deadline = time.monotonic() + 5
    while len(fetched) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fetched[:2] == [0, 1]  # page 1 fetched before the caller asked for it
    assert len(fetched) <= 3  # never more than one page waiting beyond the next
    assert list(consumer) == [1, 2]


def test_it_raises_the_producers_error_after_the_pages_before_it():
    def pages():
        yield "first"
        raise ProviderError("graph.throttled", "gave up")

    consumer = read_ahead(pages())
    assert next(consumer) == "first"
    with pytest.raises(ProviderError) as caught:
        next(consumer)
    assert caught.value.reason_code == "graph.throttled"


def test_it_stops_the_helper_when_the_caller_stops_early():
    produced: list[int] = []

    def pages():
        for n in range(1000):
            produced.append(n)
            yield n

    consumer = read_ahead(pages())
    assert next(consumer) == 0
    consumer.close()  # e.g. a cancelled run leaves the loop
    time.sleep(0.5)
    assert len(produced) <= 3
    assert not any(t.name == "graph-read-ahead" and t.is_alive() for t in threading.enumerate())


def test_it_runs_the_producer_in_the_callers_context():
    seen: list[str] = []

    def pages():
        seen.append(marker.get())
        yield 1

    token = marker.set("run-42")
    try:
        assert list(read_ahead(pages())) == [1]
    finally:
        marker.reset(token)
    assert seen == ["run-42"]
