"""Inventory sync: page through each kind, upsert in bulk, mark removals only after a full pass."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from tenantatlas.graph.read_ahead import read_ahead
from tenantatlas.inventory.changes import Tracking, has_baseline, note_baseline
from tenantatlas.inventory.diffs import Normalisation
from tenantatlas.inventory.models import InventoryKind
from tenantatlas.inventory.observed import ObservedItem, SeenBy
from tenantatlas.inventory.services import KindCounts, mark_removed, upsert_page
from tenantatlas.inventory.summaries import record_sync_summary
from tenantatlas.lib.reasons import ProviderError, RetryLater
from tenantatlas.operations.handlers import PARTIALLY_SUCCEEDED, SUCCEEDED, RunContext, RunOutcome
from tenantatlas.providers.gateway import ProviderGateway
from tenantatlas.providers.microsoft import mapping
from tenantatlas.providers.microsoft import normalisation as rules
from tenantatlas.providers.microsoft.access import consented_graph_client
from tenantatlas.providers.microsoft.attribution import attribute_changes


class SyncedKind(NamedTuple):
    """One inventory kind: the Graph contract it is read through, how a payload maps to an item,
    and how two observations compare (what is volatile, which arrays are sets)."""

    kind: str
    contract: str
    to_item: Callable[[dict[str, Any]], ObservedItem]
    normalisation: Normalisation


# Devices first: they are what people look for.
KINDS: list[SyncedKind] = [
    SyncedKind(InventoryKind.MANAGED_DEVICE, "devices.list", mapping.device, rules.DEVICE),
    SyncedKind(
        InventoryKind.COMPLIANCE_POLICY, "compliance_policies.list", mapping.policy, rules.POLICY
    ),
    SyncedKind(
        InventoryKind.DEVICE_CONFIGURATION,
        "device_configurations.list",
        mapping.policy,
        rules.POLICY,
    ),
    SyncedKind(
        InventoryKind.CONFIGURATION_POLICY,
        "configuration_policies.list",
        mapping.policy,
        rules.SETTINGS_CATALOG,
    ),
    SyncedKind(InventoryKind.MOBILE_APP, "mobile_apps.list", mapping.app, rules.APP),
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
    for kind, contract, to_item, normalisation in KINDS:
        counts = KindCounts()
        tracking = Tracking(normalisation, baseline=not has_baseline(seen_by.connection_id, kind))
        try:
            for page in read_ahead(client.iter_pages(contract)):
                ctx.check_stop()
                upsert_page(seen_by, kind, (to_item(raw) for raw in page), counts, tracking)
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
        counts.removed = mark_removed(seen_by, kind, track=not tracking.baseline)
        if tracking.baseline:
            note_baseline(seen_by, kind)
        counts.changes += 0 if tracking.baseline else counts.removed
        summary[kind] = counts.as_dict()
    attribution = attribute_changes(client, ctx.run.pk)
    context: dict[str, Any] = {"graph": gateway.recorder.summary()}
    if attribution:
        context["attribution"] = attribution
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
