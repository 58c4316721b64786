"""Inventory sync: page through each kind, upsert in bulk, mark removals only after a full pass."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tenantatlas.graph.read_ahead import read_ahead
from tenantatlas.inventory.models import InventoryKind
from tenantatlas.inventory.services import (
    KindCounts,
    ObservedItem,
    SeenBy,
    mark_removed,
    upsert_page,
)
from tenantatlas.inventory.summaries import record_sync_summary
from tenantatlas.lib.reasons import ProviderError, RetryLater
from tenantatlas.operations.handlers import PARTIALLY_SUCCEEDED, SUCCEEDED, RunContext, RunOutcome
from tenantatlas.providers.gateway import ProviderGateway
from tenantatlas.providers.microsoft import mapping
from tenantatlas.providers.microsoft.access import consented_graph_client

# (inventory kind, Graph contract, payload mapper); devices first: they are what people look for.
KINDS: list[tuple[str, str, Callable[[dict[str, Any]], ObservedItem]]] = [
    (InventoryKind.MANAGED_DEVICE, "devices.list", mapping.device),
    (InventoryKind.COMPLIANCE_POLICY, "compliance_policies.list", mapping.policy),
    (InventoryKind.DEVICE_CONFIGURATION, "device_configurations.list", mapping.policy),
    (InventoryKind.CONFIGURATION_POLICY, "configuration_policies.list", mapping.policy),
    (InventoryKind.MOBILE_APP, "mobile_apps.list", mapping.app),
]


def _expected_devices(client: Any) -> int | None:
    try:
        overview = client.get("device_overview.get")
    except RetryLater:
        raise
    except ProviderError:
        return None
    count = overview.get("enrolledDeviceCount")
    return count if isinstance(count, int) else None


def inventory_sync(ctx: RunContext) -> RunOutcome:
    gateway = ProviderGateway(ctx.run.connection, redactor=ctx.redactor, purpose="inventory.sync")
    client = consented_graph_client(gateway)
    seen_by = SeenBy(ctx.run.workspace_id, ctx.run.connection_id, ctx.run.pk)
    expected = _expected_devices(client)
    summary: dict[str, Any] = {}
    failures: dict[str, str] = {}
    done = 0
    ctx.progress(0, expected, force=True)
    for kind, contract, to_item in KINDS:
        counts = KindCounts()
        try:
            for page in read_ahead(client.iter_pages(contract)):
                ctx.check_stop()
                upsert_page(seen_by, kind, (to_item(raw) for raw in page), counts)
                done += len(page)
                ctx.progress(done, max(expected or 0, done) if expected is not None else None)
        except RetryLater:
            raise  # Graph said "come back later": the worker reschedules the whole run
        except ProviderError as exc:
            if exc.reason.fatal_for_sync:  # nothing else can work either
                raise
            failures[kind] = exc.reason_code
            summary[kind] = {**counts.as_dict(), "error": exc.reason_code, "message": exc.message}
            continue
        counts.removed = mark_removed(seen_by, kind)
        summary[kind] = counts.as_dict()
    context = {"graph": gateway.recorder.summary()}
    if len(failures) == len(KINDS):
        first = next(iter(failures.values()))
        raise ProviderError(
            first, f"Every inventory kind failed ({first}).", details={"summary": summary}
        )
    ctx.progress(done, done, force=True)
    record_sync_summary(seen_by, status=PARTIALLY_SUCCEEDED if failures else SUCCEEDED)
    if failures:
        kinds = ", ".join(f"{k} ({code})" for k, code in failures.items())
        return RunOutcome(
            status=PARTIALLY_SUCCEEDED,
            summary_counts=summary,
            context=context,
            reason_code=next(iter(failures.values())),
            message=f"Some kinds could not be read: {kinds}. Items of those kinds were kept as last observed.",
        )
    return RunOutcome(status=SUCCEEDED, summary_counts=summary, context=context)
