"""The Graph budget: its arithmetic, its stores (database on SQLite and PostgreSQL, Redis) and
the client's pacing, down to runs against the simulator with Microsoft's limits enforced."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
import redis
import requests
from django.db import connections
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from tenantatlas.graph import budget as budget_module
from tenantatlas.graph.budget import (
    BudgetKey,
    DatabaseStore,
    GraphBudget,
    Limit,
    MemoryStore,
    RedisStore,
    close_stores,
    configured_budget,
    key_from_token,
)
from tenantatlas.graph.budget.buckets import (
    Bucket,
    _accrued,
    _seconds_to_accrue,
    refilled,
    reserve,
    throttle,
)
from tenantatlas.graph.client import GraphClient
from tenantatlas.graph.tests.fakes import CLOUD, FakeClock, ScriptedAdapter, response
from tenantatlas.graph.tokens import AccessToken
from tenantatlas.lib.reasons import ProviderError, RetryLater
from tenantatlas.lib.sanitize import Redactor
from tenantatlas.lib.tests.local_servers import REDIS_TEST_URL_BASE
from tenantatlas.operations.models import OperationRun
from tenantatlas.operations.services import start_operation
from tenantatlas.operations.tests.processes import sim_tenant
from tenantatlas.operations.worker import execute
from tenantatlas.simulator.limits import GraphLimits, Window
from tenantatlas.testing import DEMO_CLIENT_ID, make_sim_connection

REDIS_URL = f"{REDIS_TEST_URL_BASE}/13"  # this file's own database number
EPOCH = 1_800_000_000.0  # store clocks count seconds since 1970
FOREVER = 1e9

# -- the arithmetic --------------------------------------------------------------------------

limits = st.builds(
    Limit.per_window,
    requests=st.integers(2, 60),
    seconds=st.floats(0.5, 30.0),
    burst=st.floats(0.01, 0.9),
)
events = st.lists(
    st.tuples(
        st.floats(0.0, 3.0),  # seconds since the previous event
        st.one_of(st.none(), st.floats(0.0, 5.0)),  # None: a request; else a 429 of that wait
    ),
    min_size=1,
    max_size=120,
)


def requests_of(limit: Limit, seconds: float) -> int:
    return round(limit.capacity + limit.rate * seconds)


@given(st.integers(2, 100_000), st.floats(0.1, 3600.0), st.floats(0.001, 0.999))
def test_a_limit_fills_exactly_its_window(requests: int, seconds: float, burst: float) -> None:
    limit = Limit.per_window(requests, seconds, burst)
    assert 1 <= limit.capacity < requests
    assert limit.capacity + limit.rate * seconds == pytest.approx(requests)


@given(
    limit=limits,
    factor=st.floats(0.1, 1.0),
    needed=st.floats(1e-6, 500.0),
    recovery=st.floats(0.5, 120.0),
)
def test_a_turn_comes_exactly_when_refilling_has_covered_it(
    limit: Limit, factor: float, needed: float, recovery: float
) -> None:
    seconds = _seconds_to_accrue(limit, factor, needed, recovery)
    assert _accrued(limit, factor, seconds, recovery) == pytest.approx(needed, rel=1e-9)


@examples(max_examples=300, deadline=None)
@given(limit=limits, recovery=st.floats(0.5, 60.0), steps=events)
def test_no_window_ever_holds_more_turns_than_the_limit(
    limit: Limit, recovery: float, steps: list[tuple[float, float | None]]
) -> None:
    """Whatever arrives, 429s included, the turns a bucket hands out never exceed the limit in
    any window of the limit's length."""
    seconds = 10.0
    requests = requests_of(limit, seconds)
    bucket, now, turns = Bucket(0.0, 0.0), EPOCH, []
    for gap, throttled in steps:
        now += gap
        if throttled is None:
            [bucket], turn = reserve([bucket], [limit], now, FOREVER, recovery)
            turns.append(now + turn.wait)
        else:
            bucket = throttle(bucket, limit, now, throttled, recovery)
    turns.sort()
    for i, start in enumerate(turns):
        inside = [t for t in turns[i:] if t < start + seconds - 1e-9]
        assert len(inside) <= requests


@given(limit=limits, recovery=st.floats(0.5, 60.0), max_wait=st.floats(0.0, 5.0))
def test_a_turn_too_far_off_reserves_nothing(
    limit: Limit, recovery: float, max_wait: float
) -> None:
    bucket = Bucket(-limit.capacity - 10 * limit.rate, EPOCH)  # ten seconds of turns queued
    states, turn = reserve([bucket], [limit], EPOCH, max_wait, recovery)
    assert not turn.granted
    assert turn.wait > max_wait
    assert states == [bucket]


def test_a_request_waits_for_both_buckets_and_names_the_one_that_held_it() -> None:
    pair, app = Limit(1.0, 1.0), Limit(1.0, 0.5)
    buckets = [Bucket(1.0, EPOCH), Bucket(0.0, EPOCH)]
    states, turn = reserve(buckets, [pair, app], EPOCH, FOREVER, 60.0)
    assert (turn.granted, turn.wait, turn.limiting) == (True, pytest.approx(2.0), 1)
    assert [state.tokens for state in states] == [0.0, -1.0]


def test_a_429_blocks_the_bucket_until_retry_after_and_halves_its_rate() -> None:
    limit, recovery = Limit(10.0, 5.0), 60.0
    bucket = throttle(Bucket(10.0, EPOCH), limit, EPOCH, 3.0, recovery)
    assert bucket == Bucket(0.0, EPOCH + 3.0, 0.5)
    [_], turn = reserve([bucket], [limit], EPOCH + 1.0, FOREVER, recovery)
    # two seconds of block left, then one token at half of 5 per second (climbing)
    assert 2.0 + 0.39 < turn.wait < 2.0 + 0.4


def test_the_rate_climbs_back_to_full_over_the_recovery_time() -> None:
    limit, recovery = Limit(10.0, 5.0), 60.0
    bucket = throttle(Bucket(10.0, EPOCH), limit, EPOCH, 0.0, recovery)
    assert refilled(bucket, limit, EPOCH + 15.0, recovery).factor == pytest.approx(0.75)
    assert refilled(bucket, limit, EPOCH + 30.0, recovery).factor == 1.0
    assert refilled(bucket, limit, EPOCH + 30.0, recovery).tokens == 10.0


def test_429s_of_one_episode_halve_the_rate_once_and_extend_the_block() -> None:
    limit, recovery = Limit(10.0, 5.0), 60.0
    first = throttle(Bucket(10.0, EPOCH), limit, EPOCH, 2.0, recovery)
    again = throttle(first, limit, EPOCH + 0.5, 4.0, recovery)
    assert (again.factor, again.counted_at) == (0.5, EPOCH + 4.5)
    later = throttle(refilled(again, limit, EPOCH + 10, recovery), limit, EPOCH + 10, 1.0, recovery)
    assert later.factor == pytest.approx((0.5 + 5.5 / recovery) / 2)


# -- keys ------------------------------------------------------------------------------------


def token(**claims: Any) -> str:
    return jwt.encode({"exp": time.time() + 3600, **claims}, "k" * 32, algorithm="HS256")


def test_it_keys_requests_by_the_tokens_app_and_tenant() -> None:
    key = key_from_token("Global", token(appid="APP-1", tid="TENANT-1"))
    assert key == BudgetKey("global", "app-1", "tenant-1")
    assert (key.pair, key.app) == ("global/app-1/tenant-1", "global/app-1")
    assert key_from_token("global", token(azp="app-2", tid="t")) == BudgetKey(
        "global", "app-2", "t"
    )
    assert key_from_token("global", token(tid="t")) is None
    assert key_from_token("global", "fake-access-token-0001") is None


# -- the client ------------------------------------------------------------------------------

APP, TENANT = "3f2504e0-4f89-11d3-9a0c-0305e82c3301", "5a1c0e4b-7f2d-4c8e-9b6a-3d2f1e0c9b8a"


class JwtTokens:
    """A token source whose tokens name an app and a tenant, as Entra's do."""

    def __init__(self, app: str = APP, tenant: str = TENANT) -> None:
        self.value = token(appid=app, tid=tenant)

    def get_token(self, force_refresh: bool = False) -> AccessToken:
        return AccessToken(self.value, datetime.now(UTC) + timedelta(hours=1), [])


def ok() -> Any:
    return response(200, {"id": "org"})


def client_for(
    budget: GraphBudget, clock: FakeClock, script: list[Any], **kwargs: Any
) -> tuple[GraphClient, ScriptedAdapter]:
    adapter = ScriptedAdapter(script)
    session = requests.Session()
    session.mount("https://", adapter)
    client = GraphClient(
        CLOUD,
        kwargs.pop("tokens", JwtTokens()),
        redactor=Redactor(),
        session=session,
        sleep=clock.sleep,
        now=clock.now,
        utcnow=lambda: datetime.fromtimestamp(EPOCH + clock.t, UTC),
        budget=budget,
        **kwargs,
    )
    return client, adapter


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(t=0.0)


def memory_budget(clock: FakeClock, **limits: Limit) -> GraphBudget:
    store = MemoryStore(clock=lambda: EPOCH + clock.t)
    return GraphBudget(
        store,
        tenant=limits.get("tenant", Limit(2.0, 1.0)),
        app=limits.get("app", Limit(100.0, 100.0)),
        penalty_seconds=2.0,
        recovery_seconds=60.0,
    )


def test_the_client_waits_its_turn_before_each_request(clock: FakeClock) -> None:
    budget = memory_budget(clock)
    client, adapter = client_for(budget, clock, [ok() for _ in range(5)])
    sent_at = []
    for _ in range(5):
        client.get("organization.get")
        sent_at.append(clock.t)
    assert sent_at == pytest.approx([0.0, 0.0, 1.0, 2.0, 3.0])
    assert len(adapter.requests) == 5
    assert client.recorder.summary()["wait_seconds"] == 0  # pacing is not a retry


def test_a_429_one_worker_sees_makes_the_other_wait(clock: FakeClock) -> None:
    budget = memory_budget(clock, tenant=Limit(10.0, 10.0))
    throttled = response(429, {}, headers={"Retry-After": "4"})
    first, _ = client_for(budget, clock, [throttled], max_attempts=1)
    second, adapter = client_for(budget, clock, [ok()])
    with pytest.raises(ProviderError, match=r"graph\.throttled"):
        first.get("organization.get")
    assert clock.sleeps == []
    clock.t = 1.0  # the other worker asks while the pair is blocked
    second.get("organization.get")
    # the three seconds of block left, then a turn at half of 10 per second
    assert sum(clock.sleeps) == pytest.approx(3.0 + 0.2, abs=0.01)
    assert len(adapter.requests) == 1


def test_a_429_without_retry_after_blocks_the_pair_for_the_penalty(clock: FakeClock) -> None:
    budget = memory_budget(clock, tenant=Limit(10.0, 10.0))
    budget.throttled(BudgetKey("test", APP, TENANT), None)
    client, _ = client_for(budget, clock, [ok()])
    client.get("organization.get")
    assert sum(clock.sleeps) == pytest.approx(2.0 + 0.2, abs=0.01)


def test_other_tenants_of_the_app_are_not_held_by_one_tenants_429(clock: FakeClock) -> None:
    budget = memory_budget(clock)
    budget.throttled(BudgetKey("test", APP, TENANT), 30.0)
    client, adapter = client_for(budget, clock, [ok()], tokens=JwtTokens(tenant=str(uuid.uuid4())))
    client.get("organization.get")
    assert clock.sleeps == []
    assert len(adapter.requests) == 1


def test_a_turn_further_off_than_a_worker_may_block_reschedules_the_run(clock: FakeClock) -> None:
    budget = memory_budget(clock)
    budget.throttled(BudgetKey("test", APP, TENANT), 120.0)
    client, adapter = client_for(budget, clock, [ok()], max_inline_retry_after=60.0)
    with pytest.raises(RetryLater) as raised:
        client.get("organization.get")
    assert raised.value.reason_code == "graph.throttled"
    assert raised.value.details["budget"] == "tenant"
    expected = datetime.fromtimestamp(EPOCH + 120.0, UTC)
    assert raised.value.retry_at is not None
    # the block, then a turn at half of 1 per second
    assert 0 < (raised.value.retry_at - expected).total_seconds() <= 2.0
    assert adapter.requests == []  # nothing went to Microsoft
    assert clock.sleeps == []


def test_without_a_budget_or_an_entra_token_nothing_is_paced(clock: FakeClock, settings) -> None:
    settings.GRAPH_BUDGET_STORE = "off"
    assert configured_budget() is None
    from tenantatlas.graph.tests.fakes import FakeTokens

    budget = memory_budget(clock, tenant=Limit(1.0, 0.001))
    client, adapter = client_for(budget, clock, [ok(), ok()], tokens=FakeTokens())
    client.get("organization.get")
    client.get("organization.get")
    assert clock.sleeps == []
    assert len(adapter.requests) == 2


def test_an_unreachable_store_lets_requests_through_unpaced(
    clock: FakeClock, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(budget_module, "_last_warning", [0.0])
    store = RedisStore("redis://127.0.0.1:1/0?socket_connect_timeout=0.2")
    budget = GraphBudget(store, tenant=Limit(1.0, 0.001), app=Limit(1.0, 0.001))
    client, adapter = client_for(budget, clock, [ok(), response(429, {}), ok()])
    client.get("organization.get")
    client.get("organization.get")
    assert len(adapter.requests) == 3
    assert "Graph budget store unavailable" in caplog.text


# -- the stores ------------------------------------------------------------------------------


class Ticking:
    """A store clock the test moves."""

    def __init__(self) -> None:
        self.now = EPOCH

    def __call__(self) -> float:
        return self.now


@pytest.fixture(
    params=[pytest.param("database", marks=pytest.mark.django_db(transaction=True)), "redis"]
)
def make_store(request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """Stores of one kind, each with its own connection (as separate workers have)."""
    made: list[Any] = []

    def make(clock: Callable[[], float] | None = None) -> Any:
        store = (
            DatabaseStore(clock=clock)
            if request.param == "database"
            else RedisStore(REDIS_URL, clock=clock)
        )
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()
    if request.param == "redis":
        client = redis.Redis.from_url(REDIS_URL)
        keys = client.keys(RedisStore.prefix + "*")
        if keys:
            client.delete(*keys)
        client.close()


def stored(store: Any, key: str) -> Bucket:
    if isinstance(store, RedisStore):
        found = store.bucket(key)
        assert found is not None
        return found
    from tenantatlas.graph.models import GraphBudgetBucket

    row = GraphBudgetBucket.objects.get(key=key)
    return Bucket(row.tokens, row.counted_at, row.factor)


@examples(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    pair=limits,
    app=limits,
    recovery=st.floats(0.5, 60.0),
    max_wait=st.floats(0.0, 3.0),
    steps=events,
)
def test_every_store_does_exactly_the_arithmetic_of_the_model(
    make_store: Callable[..., Any],
    pair: Limit,
    app: Limit,
    recovery: float,
    max_wait: float,
    steps: list[tuple[float, float | None]],
) -> None:
    clock = Ticking()
    store, model = make_store(clock), MemoryStore(clock)
    keys = [f"test/{uuid.uuid4()}/{uuid.uuid4()}", f"test/{uuid.uuid4()}"]
    for gap, throttled in steps:
        clock.now += gap
        if throttled is None:
            expected = model.reserve(keys, [pair, app], max_wait, recovery)
            found = store.reserve(keys, [pair, app], max_wait, recovery)
            assert (found.granted, found.limiting) == (expected.granted, expected.limiting)
            assert found.wait == pytest.approx(expected.wait, rel=1e-9, abs=1e-9)
        else:
            model.throttle(keys[0], pair, throttled, recovery)
            store.throttle(keys[0], pair, throttled, recovery)
    for key, expected_state in model.buckets.items():
        state = stored(store, key)
        assert state.tokens == pytest.approx(expected_state.tokens, rel=1e-9, abs=1e-9)
        assert state.counted_at == pytest.approx(expected_state.counted_at, abs=1e-6)
        assert state.factor == pytest.approx(expected_state.factor, rel=1e-9)
    store.close()


def test_workers_sharing_a_bucket_never_exceed_its_limit(make_store: Callable[..., Any]) -> None:
    """Three workers (threads with stores of their own) take turns from one pair's bucket: no
    one-second window gets more than the 12 turns allowed, and nobody sends before their turn."""
    pair, app = Limit.per_window(12, 1.0, 0.25), Limit.per_window(1000, 1.0, 0.1)
    keys = [f"test/{uuid.uuid4()}/{uuid.uuid4()}", f"test/{uuid.uuid4()}"]
    stores = [make_store() for _ in range(3)]
    turns: list[tuple[float, float]] = []  # (turn on the store's clock, when it was sent)
    lock = threading.Lock()

    def worker(store: Any) -> None:
        for _ in range(7):
            turn = store.reserve(keys, [pair, app], 30.0, 60.0)
            assert turn.granted
            time.sleep(turn.wait)
            with lock:
                turns.append((turn.at + turn.wait, time.time()))

    threads = [threading.Thread(target=worker, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    connections.close_all()
    assert len(turns) == 21
    slots = sorted(slot for slot, _ in turns)
    for i, start in enumerate(slots):
        assert len([t for t in slots[i:] if t < start + 1.0 - 1e-9]) <= 12
    assert all(sent >= slot - 0.005 for slot, sent in turns)
    assert slots[-1] - slots[0] >= (21 - 12) / pair.rate - 0.01  # the rate really held them


def test_a_429_one_worker_reports_makes_the_others_wait(make_store: Callable[..., Any]) -> None:
    pair, app = Limit(5.0, 50.0), Limit(100.0, 100.0)
    keys = [f"test/{uuid.uuid4()}/{uuid.uuid4()}", f"test/{uuid.uuid4()}"]
    reporter, other = make_store(), make_store()
    assert other.reserve(keys, [pair, app], 30.0, 60.0).wait == 0
    reporter.throttle(keys[0], pair, 1.5, 60.0)
    turn = other.reserve(keys, [pair, app], 30.0, 60.0)
    assert 1.4 < turn.wait < 1.5 + 0.05  # the block (as long as Retry-After), then half rate
    assert not other.reserve(keys, [pair, app], 1.0, 60.0).granted


@pytest.mark.django_db(transaction=True)
def test_the_database_store_reconnects_after_losing_its_connection() -> None:
    store = DatabaseStore()
    keys = [f"test/{uuid.uuid4()}/{uuid.uuid4()}"]
    assert store.reserve(keys, [Limit(2.0, 1.0)], 30.0, 60.0).granted
    store._connection.connection.close()  # the server went away under it
    with pytest.raises(budget_module.StoreUnavailable):
        store.reserve(keys, [Limit(2.0, 1.0)], 30.0, 60.0)
    assert store.reserve(keys, [Limit(2.0, 1.0)], 30.0, 60.0).granted
    assert stored(store, keys[0]).tokens < 0.5  # two turns taken: the failed call took none
    store.close()


# -- runs against the simulator with Microsoft's limits on -----------------------------------

# Microsoft's limits, shrunk: 3 requests a second per app and tenant, 6 per app.
SIMULATED = GraphLimits(app_tenant=Window(3, 1.0), tenant=None, app=Window(6, 1.0))


@pytest.fixture
def budget_settings(settings: Any) -> Iterator[Any]:
    """The budget sized to the simulated limits (the store is the test's to choose)."""
    settings.GRAPH_BUDGET_TENANT_REQUESTS = 3
    settings.GRAPH_BUDGET_TENANT_SECONDS = 1.0
    settings.GRAPH_BUDGET_APP_REQUESTS = 6
    settings.GRAPH_BUDGET_APP_SECONDS = 1.0
    settings.GRAPH_BUDGET_BURST = 0.2
    settings.GRAPH_BUDGET_REDIS_URL = REDIS_URL
    yield settings
    close_stores()
    client = redis.Redis.from_url(REDIS_URL)
    keys = client.keys(RedisStore.prefix + "*")
    if keys:
        client.delete(*keys)
    client.close()


def run_in_parallel(runs: list[OperationRun]) -> None:
    """Each run executed by a worker thread of its own, as parallel workers would."""

    def work(run_id: int) -> None:
        try:
            execute(run_id)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(run.pk,)) for run in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for run in runs:
        run.refresh_from_db()


def a_sync_and_three_checks(simulator: Any, acme: Any, alice: Any) -> list[OperationRun]:
    tenants = [str(uuid.uuid4()) for _ in range(4)]
    runs = []
    for i, tenant_id in enumerate(tenants):
        simulator.add_tenant(sim_tenant(tenant_id, f"secret-{i}", device_count=40))
        connection = make_sim_connection(acme, alice, tenant_id, f"secret-{i}", name=f"T{i}")
        operation = "inventory.sync" if i == 0 else "provider.health_check"
        runs.append(
            start_operation(
                actor=alice, member=None, connection=connection, operation_type=operation
            ).run
        )
    return runs


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("store", ["database", "redis"])
def test_a_sync_and_parallel_checks_stay_under_microsofts_limits(
    sim: Any, acme: Any, alice: Any, budget_settings: Any, store: str
) -> None:
    budget_settings.GRAPH_BUDGET_STORE = store
    sim.set_limits(SIMULATED)
    runs = a_sync_and_three_checks(sim, acme, alice)
    run_in_parallel(runs)
    assert [run.status for run in runs] == ["succeeded"] * 4
    usage = [sim.usage(DEMO_CLIENT_ID, str(run.connection.entra_tenant_id)) for run in runs]
    assert usage[0].requests > 3  # the sync alone needs more than a second's worth of its pair
    assert sum(u.requests for u in usage) > 2 * 6  # and all of them more than two of the app's
    # Turns are exact on the store's clock; arrival jitter may let one through at a window's edge.
    assert sum(u.throttled for u in usage) <= 1


@pytest.mark.django_db(transaction=True)
def test_without_the_budget_the_same_runs_meet_429s(
    sim: Any, acme: Any, alice: Any, budget_settings: Any
) -> None:
    """The control: the runs above exceed the simulated limits when nothing paces them."""
    budget_settings.GRAPH_BUDGET_STORE = "off"
    sim.set_limits(SIMULATED)
    runs = a_sync_and_three_checks(sim, acme, alice)
    run_in_parallel(runs)
    usage = [sim.usage(DEMO_CLIENT_ID, str(run.connection.entra_tenant_id)) for run in runs]
    assert sum(u.limited for u in usage) >= 3


@pytest.mark.django_db(transaction=True)
def test_a_run_whose_budget_is_spent_for_long_is_rescheduled_not_failed(
    sim: Any, acme: Any, alice: Any, budget_settings: Any
) -> None:
    budget_settings.GRAPH_BUDGET_STORE = "database"
    tenant_id = str(uuid.uuid4())
    sim.add_tenant(sim_tenant(tenant_id, "spent-secret"))
    connection = make_sim_connection(acme, alice, tenant_id, "spent-secret")
    budget = configured_budget()
    assert budget is not None
    budget.throttled(BudgetKey("simulator", DEMO_CLIENT_ID, tenant_id), 600.0)  # another worker's
    run = start_operation(
        actor=alice, member=None, connection=connection, operation_type="inventory.sync"
    ).run
    before = timezone.now()
    assert execute(run.pk) == "queued"
    run.refresh_from_db()
    assert run.status == "queued"
    assert run.not_before is not None
    assert 599 <= (run.not_before - before).total_seconds() <= 605
    assert run.context["rescheduled"][0]["reason_code"] == "graph.throttled"
    assert sim.usage(DEMO_CLIENT_ID, tenant_id).requests == 0  # nothing reached Microsoft


def test_the_embedded_product_paces_through_its_own_database(tmp_path: Any) -> None:
    # The suite runs with the budget off (tenantatlas/testing_env.py); the product does not.
    env = {k: v for k, v in os.environ.items() if k != "TENANTATLAS_GRAPH_BUDGET_STORE"}
    env.update(
        TENANTATLAS_ENV="embedded",
        TENANTATLAS_DATA_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="tenantatlas.settings",
    )
    env.pop("DATABASE_URL", None)
    code = (
        "import django; django.setup(); from tenantatlas.graph.budget import configured_budget; "
        "print(type(configured_budget().store).__name__)"
    )
    shown = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert shown.stdout.split() == ["DatabaseStore"], shown.stderr[-2000:]
