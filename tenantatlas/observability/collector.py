"""``/metrics``: the machine's process counters plus what the database knows, read when scraped.

Process counters (lib/metrics.py: Graph requests, 429s and retries; runs finished and their
durations) come from the multiprocess directory every process of this machine writes to
(observability/archive.py reads them). The
gauges below come from the database at scrape time, with indexed queries over the active runs
and the open deliveries only, so every web process on every machine answers the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tenantatlas.alerts.models import AlertChannel, AlertDelivery, ChannelState, DeliveryStatus
from tenantatlas.observability.archive import read_counters
from tenantatlas.observability.queue import QueueState, read_queue_state
from tenantatlas.operations.models import ACTIVE_STATUSES
from tenantatlas.operations.registry import OPERATIONS

OPEN_DELIVERY_STATUSES = (DeliveryStatus.PENDING, DeliveryStatus.SENDING)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def run_metrics(state: QueueState) -> Iterator[Metric]:
    runs = GaugeMetricFamily(
        "tenantatlas_runs_active",
        "Runs queued or running, by operation type and status.",
        labels=["operation_type", "status"],
    )
    kinds = sorted({*OPERATIONS, *(kind for kind, _ in state.active)})
    for kind in kinds:
        for status in ACTIVE_STATUSES:
            runs.add_metric([kind, str(status)], state.active.get((kind, status), 0))
    yield runs
    depth = GaugeMetricFamily(
        "tenantatlas_queue_depth",
        "Queued runs: due (waiting for a worker now) or deferred (until a Retry-After).",
        labels=["state"],
    )
    depth.add_metric(["due"], state.due)
    depth.add_metric(["deferred"], state.deferred)
    yield depth
    yield _gauge(
        "tenantatlas_queue_oldest_due_age_seconds",
        "How long the longest-waiting due run has waited for a worker (0 when none waits).",
        state.oldest_due_wait or 0.0,
    )
    if state.newest_heartbeat_age is not None and state.oldest_heartbeat_age is not None:
        yield _gauge(
            "tenantatlas_worker_heartbeat_age_seconds",
            "Age of the newest heartbeat of a running run (absent while nothing runs).",
            state.newest_heartbeat_age,
        )
        yield _gauge(
            "tenantatlas_run_heartbeat_oldest_age_seconds",
            "Age of the oldest heartbeat of a running run (absent while nothing runs).",
            state.oldest_heartbeat_age,
        )


def delivery_metrics() -> Iterator[Metric]:
    """Open deliveries only (the partial index ``delivery_open``); failing channels are few."""
    now = timezone.now()
    open_deliveries = AlertDelivery.objects.filter(status__in=OPEN_DELIVERY_STATUSES).order_by()
    counts = dict(open_deliveries.values_list("status").annotate(n=Count("pk")))
    deliveries = GaugeMetricFamily(
        "tenantatlas_alert_deliveries_open",
        "Alert deliveries not finished yet, by status (pending: waiting or between attempts).",
        labels=["status"],
    )
    for status in OPEN_DELIVERY_STATUSES:
        deliveries.add_metric([str(status)], counts.get(status, 0))
    yield deliveries
    oldest = open_deliveries.filter(
        status=DeliveryStatus.PENDING, next_attempt_at__lte=now
    ).aggregate(due_since=Min("next_attempt_at"))["due_since"]
    yield _gauge(
        "tenantatlas_alert_delivery_oldest_due_age_seconds",
        "How long the longest-waiting due alert delivery has waited (0 when none waits).",
        0.0 if oldest is None else max((now - oldest).total_seconds(), 0.0),
    )
    yield _gauge(
        "tenantatlas_alert_channels_failing",
        "Alert channels marked failing (deliveries failed several times in a row).",
        AlertChannel.objects.filter(state=ChannelState.FAILING).count(),
    )


class ScrapeCollector(Collector):
    """Every process counter of this machine, then the gauges read from the database."""

    def collect(self) -> Iterator[Metric]:
        yield from read_counters(Path(settings.METRICS_DIR))
        yield from run_metrics(read_queue_state())
        yield from delivery_metrics()


def render_metrics() -> bytes:
    registry = CollectorRegistry()
    registry.register(ScrapeCollector())
    return generate_latest(registry)
