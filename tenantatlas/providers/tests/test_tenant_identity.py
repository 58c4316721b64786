"""Every operation checks the tenant it reached (token ``tid`` and ``/organization``) before it
stores anything: another tenant's devices never land under a connection."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import pytest

from tenantatlas.inventory.models import ComplianceSnapshot, InventoryItem
from tenantatlas.operations.models import OperationRun
from tenantatlas.operations.tests.processes import ALL_ROLES, run_once, sim_tenant
from tenantatlas.providers.models import Health
from tenantatlas.testing import make_sim_connection

SECRET = "tenant-identity-secret"
SYNC, SNAPSHOT, HEALTH = "inventory.sync", "compliance.snapshot", "provider.health_check"


def stored(conn: Any) -> dict[str, Any]:
    """What the connection holds: inventory rows (with their last run and removal) and snapshots."""
    return {
        "items": sorted(
            InventoryItem.objects.filter(connection=conn).values_list(
                "kind", "external_id", "last_seen_run", "removed_at", "content_hash"
            )
        ),
        "snapshots": list(
            ComplianceSnapshot.objects.filter(connection=conn).values_list("pk", flat=True)
        ),
    }


@pytest.fixture
def own(sim: Any) -> Any:
    """The connection's own tenant, healthy at first."""
    return sim.add_tenant(sim_tenant(str(uuid.uuid4()), SECRET, device_count=12))


@pytest.fixture
def stranger(sim: Any) -> Any:
    """Another tenant the simulator knows, with other devices."""
    return sim.add_tenant(sim_tenant(str(uuid.uuid4()), "stranger-secret", device_count=30))


@pytest.fixture
def synced(own: Any, acme: Any, alice: Any, django_capture_on_commit_callbacks: Any) -> Any:
    """A connection with one good inventory sync and one good snapshot behind it."""
    conn = make_sim_connection(acme, alice, own.tenant_id, SECRET, name="Own")
    for operation_type in (SYNC, SNAPSHOT):
        run = run_once(conn, alice, operation_type, django_capture_on_commit_callbacks)
        assert run.status == "succeeded", run.failure_message
    before = stored(conn)
    assert len([i for i in before["items"] if i[0] == "managed_device"]) == 12
    assert len(before["snapshots"]) == 1
    return conn


def assert_refused_and_untouched(run: OperationRun, conn: Any, before: dict[str, Any]) -> None:
    assert (run.status, run.reason_code) == ("failed", "provider.tenant_mismatch")
    assert run.failure_message
    assert stored(conn) == before  # nothing written, nothing marked removed
    assert not InventoryItem.objects.filter(connection=conn, last_seen_run=run).exists()
    assert not ComplianceSnapshot.objects.filter(run=run).exists()
    conn.refresh_from_db()
    assert (conn.health, conn.health_reason_code) == (Health.UNHEALTHY, "provider.tenant_mismatch")


@pytest.mark.parametrize("operation_type", [SYNC, SNAPSHOT])
def test_it_fails_an_operation_whose_organization_is_another_tenant_and_stores_nothing(
    sim: Any,
    own: Any,
    synced: Any,
    alice: Any,
    operation_type: str,
    django_capture_on_commit_callbacks: Any,
) -> None:
    sim.add_tenant(dataclasses.replace(own, organization_id=str(uuid.uuid4()), generation=3))
    before = stored(synced)

    run = run_once(synced, alice, operation_type, django_capture_on_commit_callbacks)

    assert_refused_and_untouched(run, synced, before)
    assert run.context["failure_details"]["organization_id"] != str(synced.entra_tenant_id)


@pytest.mark.parametrize("operation_type", [SYNC, SNAPSHOT])
def test_it_fails_an_operation_whose_token_names_another_tenant_and_stores_nothing(
    sim: Any,
    own: Any,
    stranger: Any,
    synced: Any,
    alice: Any,
    operation_type: str,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # Without Organization.Read.All the /organization comparison cannot run: the token's tid
    # is then the only thing standing between this connection and the stranger's devices.
    roles = [role for role in ALL_ROLES if role not in ("Organization.Read.All",)]
    app = dataclasses.replace(own.apps[0], roles=roles)
    sim.add_tenant(dataclasses.replace(own, token_tenant_id=stranger.tenant_id, apps=[app]))
    before = stored(synced)

    run = run_once(synced, alice, operation_type, django_capture_on_commit_callbacks)

    assert_refused_and_untouched(run, synced, before)
    assert run.context["failure_details"]["token_tenant_id"] == stranger.tenant_id


def test_it_fails_the_connection_check_on_a_token_for_another_tenant(
    sim: Any,
    own: Any,
    stranger: Any,
    acme: Any,
    alice: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    sim.add_tenant(dataclasses.replace(own, token_tenant_id=stranger.tenant_id))
    conn = make_sim_connection(acme, alice, own.tenant_id, SECRET, name="Own")

    run = run_once(conn, alice, HEALTH, django_capture_on_commit_callbacks)

    assert (run.status, run.reason_code) == ("failed", "provider.tenant_mismatch")
    assert run.context["failure_details"]["token_tenant_id"] == stranger.tenant_id
    conn.refresh_from_db()
    assert conn.health == Health.UNHEALTHY
    assert conn.entra_tenant_name != stranger.display_name


def test_it_still_syncs_when_token_and_organization_name_the_connections_tenant(
    own: Any, synced: Any, alice: Any, django_capture_on_commit_callbacks: Any
) -> None:
    run = run_once(synced, alice, SYNC, django_capture_on_commit_callbacks)

    assert (run.status, run.reason_code) == ("succeeded", "")
    assert run.context["graph"]["by_contract"]["organization.get"]["attempts"] == 1
