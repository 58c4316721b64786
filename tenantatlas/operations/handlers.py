"""Operation handlers: each delegates to the connection's provider module."""

from __future__ import annotations

from tenantatlas.operations.worker import RunContext, RunOutcome
from tenantatlas.providers.capabilities import capability_handler


def _run(ctx: RunContext, interface: str) -> RunOutcome:
    return capability_handler(ctx.connection.provider, interface)(ctx)


def run_health_check(ctx: RunContext) -> RunOutcome:
    return _run(ctx, "HealthCheck")


def run_inventory_sync(ctx: RunContext) -> RunOutcome:
    return _run(ctx, "InventoryCollector")


def run_compliance_snapshot(ctx: RunContext) -> RunOutcome:
    return _run(ctx, "ComplianceSnapshotter")
