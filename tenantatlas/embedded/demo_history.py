"""The demo's replayed history: a few days of changes in the churn tenant, dated like it happened.

A demo tenant with ``drift = "churn"`` and declared mutations (Contoso in the demo scenarios)
changes over generations 0…N. When its demo connection has no change history yet, the demo
replays that history through the product's own pipeline:

1. the simulated tenant enters generation g ``N - g`` days ago, through the simulator's control
   endpoint (``POST /_simulator/tenants/{id}/generation``, docs/simulator.md), so the mutations'
   ``lastModifiedDateTime`` and audit events' ``activityDateTime`` fall then;
2. a real inventory sync of the connection runs to its end in this process (``start_operation``
   and the worker's ``execute``, as every run does): it diffs, records the changes and attributes
   them from the tenant's audit log;
3. ``date_replayed_sync`` moves everything that sync wrote back by the same ``N - g`` days.

The sync of the last generation runs now and is not moved, so the connection's latest sync is a
real one and everything after it (the daily schedule) continues from there. Attribution works
because every step is shifted alike: a replayed sync sees each item's previous observation where
the previous replayed sync was dated, the events of its generation after it, and its own
detection (still real, later) after them; dated back, the detection still follows its events.

The product's audit log is append-only and keeps what really happened: the syncs the demo ran
at seeding time. Nothing outside the demo re-dates anything.
"""

from __future__ import annotations

import datetime as dt
import json
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from tenantatlas.inventory.models import InventoryItem, ItemChange, TenantSummary
from tenantatlas.lib.actors import DEMO
from tenantatlas.lib.errors import Refused
from tenantatlas.operations.models import TERMINAL_STATUSES, OperationRun, RunStatus, Trigger
from tenantatlas.operations.services import start_operation
from tenantatlas.operations.worker import execute
from tenantatlas.providers.models import ProviderConnection
from tenantatlas.simulator.scenarios import TenantScenario

SYNC = "inventory.sync"
DAY = dt.timedelta(days=1)
# A replayed sync another worker took is waited for this long (the worker's own run limit
# bounds it too).
WAIT_FOR_OTHER_WORKER = dt.timedelta(minutes=10)


class HistoryNotReplayed(Exception):
    """The replay could not go on (the simulator unreachable or refusing, a sync not succeeding)."""


def history_tenants(scenarios: Iterable[TenantScenario]) -> list[TenantScenario]:
    """The demo tenants with a change history to replay: churn drift and declared mutations."""
    return [t for t in scenarios if t.drift == "churn" and t.mutations]


def last_generation(tenant: TenantScenario) -> int:
    return max(m.epoch for m in tenant.mutations)


def has_history(connection: ProviderConnection) -> bool:
    return ItemChange.objects.filter(connection_id=connection.pk).exists()


def replay_history(connection: ProviderConnection, tenant: TenantScenario) -> list[OperationRun]:
    """Sync the tenant through generations 0…N, entered N…0 days ago, each sync dated then.

    Returns the replayed runs, oldest first. Raises HistoryNotReplayed when a step fails; the
    syncs replayed before it stay (they are real syncs of the connection).
    """
    last = last_generation(tenant)
    runs = []
    for generation in range(last + 1):
        earlier = (last - generation) * DAY
        enter_generation(tenant.tenant_id, generation, timezone.now() - earlier)
        run = sync_to_its_end(connection)
        date_replayed_sync(run, earlier)
        runs.append(run)
    return runs


def resume_tenant(tenant: TenantScenario) -> None:
    """The simulated tenant is back where the replayed history left it (a restarted simulator
    starts again at generation 0, whose state a later sync would report as changes undone)."""
    enter_generation(tenant.tenant_id, last_generation(tenant), None)


def enter_generation(tenant_id: str, generation: int, entered_at: dt.datetime | None) -> None:
    """Move the simulated tenant to ``generation`` through the simulator's control endpoint."""
    base = settings.SIMULATOR_URL.rstrip("/")
    if not base:
        raise HistoryNotReplayed("no simulator is configured (TENANTATLAS_SIMULATOR_URL)")
    payload: dict[str, object] = {"generation": generation}
    if entered_at is not None:
        payload["entered_at"] = entered_at.isoformat()
    request = urllib.request.Request(  # noqa: S310 - the configured simulator, over https
        f"{base}/_simulator/tenants/{tenant_id}/generation",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        context = ssl.create_default_context(cafile=settings.SIMULATOR_CA_BUNDLE)
        with urllib.request.urlopen(request, context=context, timeout=10):  # noqa: S310
            pass
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:300]
        raise HistoryNotReplayed(
            f"the simulator refused generation {generation}: {detail}"
        ) from exc
    except (OSError, ssl.SSLError) as exc:
        raise HistoryNotReplayed(f"the simulator at {base} is not reachable ({exc})") from exc


def sync_to_its_end(connection: ProviderConnection) -> OperationRun:
    """A real inventory sync of the connection, run in this process as a worker runs it."""
    try:
        run = start_operation(
            actor=DEMO, connection=connection, operation_type=SYNC, trigger=Trigger.CLI
        ).run
    except Refused as exc:
        raise HistoryNotReplayed(f"no sync could start: {exc}") from exc
    if execute(run.pk) is None:  # a worker (or the immediate transport) took it: wait for it
        deadline = time.monotonic() + WAIT_FOR_OTHER_WORKER.total_seconds()
        while not _ended(run) and time.monotonic() < deadline:
            time.sleep(0.5)
    run.refresh_from_db()
    if run.status != RunStatus.SUCCEEDED:
        reason = run.reason_code or run.status
        raise HistoryNotReplayed(f"a replayed sync ended {run.status} ({reason})")
    return run


def _ended(run: OperationRun) -> bool:
    return OperationRun.objects.filter(pk=run.pk, status__in=TERMINAL_STATUSES).exists()


@transaction.atomic
def date_replayed_sync(run: OperationRun, earlier: dt.timedelta) -> None:
    """Replayed history, dated like it happened: move back by ``earlier`` every time the
    finished replayed sync ``run`` wrote — the run's own times, the change rows it recorded, the
    times its connection's items were first seen, last seen or removed by it, and the
    connection's last sync time if it is this run's.

    The demo's replay only (``replay_history``): the product never re-dates what it recorded.
    Everything the sync wrote is at or after its start, because the replay runs one sync at a
    time on a connection nothing else uses meanwhile.
    """
    if not earlier:
        return
    since = run.started_at
    assert since is not None, "a finished run has started"
    run_times = ("created_at", "enqueued_at", "started_at", "finished_at", "heartbeat_at")
    OperationRun.objects.filter(pk=run.pk).update(**{f: F(f) - earlier for f in run_times})
    ItemChange.objects.filter(run_id=run.pk).update(detected_at=F("detected_at") - earlier)
    items = InventoryItem.objects.filter(connection_id=run.connection_id)
    for field in ("first_seen_at", "last_seen_at", "removed_at"):
        items.filter(**{f"{field}__gte": since}).update(**{field: F(field) - earlier})
    TenantSummary.objects.filter(connection_id=run.connection_id, last_sync_run_id=run.pk).update(
        last_sync_at=F("last_sync_at") - earlier
    )
