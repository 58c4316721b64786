"""The numbers only a process sees: Graph traffic and finished runs (docs/operations.md, "Metrics").

They are counted where they happen (the Graph client in workers; the run listener in whichever
process ends a run: a worker, the reaper, a web process cancelling a queued run). With
prometheus_client's multiprocess mode every process writes them to files of its own in the
machine's metrics directory (observability/multiprocess.py, chosen by settings before this
module is imported) and ``/metrics`` adds them up. What the database knows (runs waiting and
running, heartbeats, open deliveries) is counted when scraped instead (observability/).

Label values stay few: cloud names, operation types, statuses, reason codes.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

GRAPH_REQUESTS = Counter(
    "tenantatlas_graph_requests",
    "HTTP requests sent to Microsoft Graph, every attempt counted.",
    ["cloud"],
)
GRAPH_THROTTLED = Counter(
    "tenantatlas_graph_throttled",
    "Microsoft Graph answers 429 Too Many Requests.",
    ["cloud"],
)
GRAPH_RETRIES = Counter(
    "tenantatlas_graph_retries",
    "Graph requests sent again after a wait (throttling, 5xx, timeouts, network errors).",
    ["cloud"],
)
RUNS_FINISHED = Counter(
    "tenantatlas_runs_finished",
    "Operation runs that reached a terminal status.",
    ["operation_type", "status", "reason_code"],
)
# From seconds (a connection check) to the longest time limit (an inventory sync, 3 h).
DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 10800, float("inf"))
RUN_DURATION = Histogram(
    "tenantatlas_run_duration_seconds",
    "How long finished runs ran, from their last start to their end.",
    ["operation_type"],
    buckets=DURATION_BUCKETS,
)
