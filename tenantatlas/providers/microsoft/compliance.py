"""Compliance snapshot: count devices by Graph's exact complianceState, plus stale devices."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.utils import timezone

from tenantatlas.inventory.models import ComplianceState
from tenantatlas.inventory.observed import SeenBy
from tenantatlas.inventory.services import record_snapshot
from tenantatlas.lib.reasons import ProviderError
from tenantatlas.operations.handlers import SUCCEEDED, RunContext, RunOutcome
from tenantatlas.providers.gateway import ProviderGateway
from tenantatlas.providers.microsoft.access import consented_graph_client
from tenantatlas.providers.microsoft.mapping import _when

STATES = set(ComplianceState.values)


def compliance_snapshot(ctx: RunContext) -> RunOutcome:
    gateway = ProviderGateway(
        ctx.run.connection, redactor=ctx.redactor, purpose="compliance.snapshot"
    )
    client = consented_graph_client(gateway)
    stale_days = settings.COMPLIANCE_STALE_DAYS
    stale_before = timezone.now() - dt.timedelta(days=stale_days)
    counts = dict.fromkeys(ComplianceState.values, 0)
    stale = 0
    unexpected: dict[str, int] = {}
    done = 0
    query = {"$select": "id,complianceState,lastSyncDateTime"}
    for page in client.iter_pages("devices.list", query=query):
        ctx.check_stop()
        for device in page:
            state = str(device.get("complianceState") or "unknown")
            if state not in STATES:
                unexpected[state] = unexpected.get(state, 0) + 1
                state = "unknown"
            counts[state] += 1
            synced = _when(device.get("lastSyncDateTime"))
            if synced is None or synced < stale_before:
                stale += 1
        done += len(page)
        ctx.progress(done)
    summary: dict[str, Any] = {}
    try:
        summary = client.get("compliance_summary.get")
        summary.pop("@odata.context", None)
    except ProviderError as exc:
        summary = {"error": exc.reason_code}
    seen_by = SeenBy(ctx.run.workspace_id, ctx.run.connection_id, ctx.run.pk)
    snapshot = record_snapshot(
        seen_by, counts=counts, stale=stale, stale_after_days=stale_days, tenant_summary=summary
    )
    ctx.progress(done, done, force=True)
    return RunOutcome(
        status=SUCCEEDED,
        summary_counts={
            **counts,
            "stale": stale,
            "total": snapshot.total,
            **({"unexpected_states": unexpected} if unexpected else {}),
        },
        context={"snapshot_id": snapshot.pk, "graph": gateway.recorder.summary()},
    )
