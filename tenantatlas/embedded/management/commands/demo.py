"""Seed a demo workspace whose connections point at the bundled simulator."""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone

from tenantatlas.embedded.demo_history import (
    HistoryNotReplayed,
    has_history,
    history_tenants,
    replay_history,
    resume_tenant,
)
from tenantatlas.inventory.models import ItemChange
from tenantatlas.lib.actors import DEMO
from tenantatlas.lib.env import envstr
from tenantatlas.members.services import add_member
from tenantatlas.onboarding.models import Onboarding
from tenantatlas.onboarding.services import start_onboarding
from tenantatlas.operations.models import OperationSchedule, Trigger
from tenantatlas.operations.schedules import set_schedule
from tenantatlas.operations.services import start_operation
from tenantatlas.providers.credential_input import SecretInput
from tenantatlas.providers.models import PartnerApp, ProviderConnection
from tenantatlas.providers.services.connections import create_connection
from tenantatlas.providers.services.partner_apps import create_partner_app
from tenantatlas.simulator.scenarios import DEMO_SCENARIOS, TenantScenario, load_scenarios
from tenantatlas.workspaces.models import Membership, Role, Workspace

CHECK = "provider.health_check"
# The first sync and snapshot of a new demo connection: after its check, the snapshot after the
# largest tenant's sync (the schedules skip a connection that is still busy).
FIRST_RUNS = {
    "inventory.sync": dt.timedelta(seconds=15),
    "compliance.snapshot": dt.timedelta(minutes=4),
}
DEMO_USERS = [("admin", Role.OWNER), ("operator", Role.OPERATOR), ("viewer", Role.READONLY)]


def demo_password() -> tuple[str, bool]:
    """The demo users' password: from TENANTATLAS_DEMO_PASSWORD, else generated once (0600 file)."""
    configured = envstr("TENANTATLAS_DEMO_PASSWORD")
    if configured:
        return configured, False
    path = Path(settings.DATA_DIR) / "demo-password"
    if path.exists():
        return path.read_text().strip(), False
    password = secrets.token_urlsafe(12)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(password + "\n")
    return password, True


class Command(BaseCommand):
    help = (
        "Create (idempotently) the demo users admin/operator/viewer and the workspace 'Demo' with "
        "one connection per simulator demo tenant (cloud 'simulator'), and replay a few days of "
        "change history of the churn tenant through the running simulator. Safe to run "
        "repeatedly."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--scenarios", default=str(DEMO_SCENARIOS))

    def handle(self, *args: Any, **options: Any) -> None:
        scenarios = load_scenarios(options["scenarios"])
        with transaction.atomic():
            password, fresh = demo_password()
            workspace = Workspace.objects.filter(slug="demo").first() or Workspace.objects.create(
                name="Demo", slug="demo"
            )
            owner, *_ = [
                _demo_member(workspace, username, role, password) for username, role in DEMO_USERS
            ]
            created = [
                connection
                for tenant in scenarios
                if (connection := _demo_connection(workspace, owner, tenant)) is not None
            ]
            created += _demo_partner_app(workspace, owner, scenarios)
        # Before the first operations: the replay's syncs and a check may not share a tenant.
        for tenant in history_tenants(scenarios):
            self._history(workspace, tenant)
        with transaction.atomic():
            for connection in created:
                _first_operations(connection)
        self.stdout.write(f"Demo workspace ready ({len(created)} connection(s) added).")
        where = "" if not fresh else f" (saved in {Path(settings.DATA_DIR) / 'demo-password'})"
        self.stdout.write(f"Sign in as admin / operator / viewer with password: {password}{where}")

    def _history(self, workspace: Workspace, tenant: TenantScenario) -> None:
        """A few days of change history for the tenant's connection (demo_history.py), once;
        later starts put the simulated tenant back where that history left it."""
        connection = (
            ProviderConnection.objects.for_workspace(workspace)
            .filter(entra_tenant_id=tenant.tenant_id)
            .first()
        )
        if connection is None:
            return
        if has_history(connection):
            try:
                resume_tenant(tenant)
            except HistoryNotReplayed as exc:
                self.stderr.write(f"{tenant.display_name}: not moved to its latest state: {exc}.")
            return
        self.stdout.write(f"Replaying {tenant.display_name}'s change history of the last days…")
        try:
            runs = replay_history(connection, tenant)
        except HistoryNotReplayed as exc:
            self.stderr.write(f"{tenant.display_name}: no change history replayed: {exc}.")
            return
        found = ItemChange.objects.filter(run__in=runs).count()
        self.stdout.write(f"{tenant.display_name}: {found} changes over {len(runs)} syncs.")


def _demo_member(workspace: Workspace, username: str, role: str, password: str) -> Any:
    """The demo user (created with ``password`` the first time), a member of the workspace."""
    users = get_user_model()
    user = users.objects.filter(username=username).first()
    if user is None:
        user = users.objects.create_user(
            username=username, email=f"{username}@demo.invalid", password=password
        )
    if not Membership.objects.filter(workspace=workspace, user=user).exists():
        add_member(actor=DEMO, workspace=workspace, user=user, role=role)
    return user


def _first_operations(connection: ProviderConnection) -> None:
    """A new demo connection is checked at once; its sync and snapshot run daily, the first ones
    a little later (one run per connection at a time), so the overview fills up on its own."""
    start_operation(actor=DEMO, connection=connection, operation_type=CHECK, trigger=Trigger.CLI)
    now = timezone.now()
    for operation_type, first in FIRST_RUNS.items():
        schedule = set_schedule(
            actor=DEMO,
            connection=connection,
            operation_type=operation_type,
            interval_minutes=24 * 60,
        )
        assert schedule is not None
        OperationSchedule.objects.filter(pk=schedule.pk).update(next_run_at=now + first)


def _demo_connection(
    workspace: Workspace, owner: Any, tenant: TenantScenario
) -> ProviderConnection | None:
    """A connection to the simulated tenant, unless the workspace has one (or it has no app)."""
    exists = ProviderConnection.objects.for_workspace(workspace).filter(
        entra_tenant_id=tenant.tenant_id
    )
    if exists.exists() or not tenant.apps or not tenant.apps[0].secrets:
        return None
    app = tenant.apps[0]
    return create_connection(
        actor=owner,
        workspace=workspace,
        display_name=tenant.display_name,
        entra_tenant_id=tenant.tenant_id,
        cloud="simulator",
        credential=SecretInput(
            client_id=app.client_id,
            client_secret=app.secrets[0].value,
            expires_at=app.secrets[0].expires_at,
        ),
    )


def _demo_partner_app(
    workspace: Workspace, owner: Any, scenarios: list[TenantScenario]
) -> list[ProviderConnection]:
    """The scenarios' multi-tenant app as the workspace's partner app: the customers that
    consented to it are connected through it, the others have a pending consent link."""
    found = [
        (tenant, app)
        for tenant in scenarios
        for app in tenant.apps
        if app.multi_tenant and app.secrets
    ]
    if not found:
        return []
    home, app = found[0]
    partner_app = PartnerApp.objects.for_workspace(workspace).first()
    if partner_app is None:
        secret = app.secrets[0]
        partner_app = create_partner_app(
            actor=owner,
            workspace=workspace,
            display_name=f"{home.display_name} partner app",
            client_id=app.client_id,
            cloud="simulator",
            credential=SecretInput(app.client_id, secret.value, secret.expires_at),
        )
    created = []
    live = ProviderConnection.objects.for_workspace(workspace)
    for tenant in scenarios:
        if tenant is home or tenant.apps or not tenant.users:
            continue  # its own app registration, or not a customer of the partner app
        if live.filter(entra_tenant_id=tenant.tenant_id).exists():
            continue
        if tenant.find_consent(app.client_id) is not None:
            created.append(
                create_connection(
                    actor=owner,
                    workspace=workspace,
                    display_name=tenant.display_name,
                    entra_tenant_id=tenant.tenant_id,
                    partner_app=partner_app,
                )
            )
        elif not Onboarding.objects.for_workspace(workspace).filter(
            customer_name=tenant.display_name
        ):
            start_onboarding(
                actor=owner,
                workspace=workspace,
                customer_name=tenant.display_name,
                tenant_hint=tenant.tenant_id,
            )
    return created
