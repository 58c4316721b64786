"""The API endpoint table behind the isolation matrix (test_isolation.py).

ADDING AN ENDPOINT? Append a row. ``test_it_has_a_row_for_every_operation`` compares the table
with the OpenAPI document, so an endpoint without a row fails the suite.

A row names the method, the path (``{id}`` marks the object the URL addresses), the capability
the endpoint requires (None: any valid token), the kind of object it addresses (in the path or,
for ``body_obj``, in the body) and the status for a token holding the capability. The expected
answer for every visitor is derived: no/malformed/revoked/expired token → 401, a token of another
workspace → 404 for my objects, a role without the capability → 403.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tenantatlas.api.tests.factories import make_run
from tenantatlas.lib.actors import SYSTEM
from tenantatlas.notifications.models import Notification
from tenantatlas.operations.models import RunStatus
from tenantatlas.testing import KNOWN_SECRET, make_connection
from tenantatlas.workspaces.capabilities import (
    AUDIT_VIEW,
    PROVIDER_MANAGE,
    PROVIDER_RUN,
    PROVIDER_VIEW,
)
from tenantatlas.workspaces.models import Membership, Role, Workspace

CLIENT_ID = "5e5e5e5e-6666-4777-8888-999999999999"
SECRET_CREDENTIAL = {
    "kind": "client_secret",
    "client_id": CLIENT_ID,
    "client_secret": "matrix-secret-0001",
}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # relative to /api/v1, "{id}" = the addressed object
    capability: str | None
    obj: str | None = None  # kind of object in the path: a key of OBJECTS
    body_obj: str | None = None  # kind of object whose id goes into the body's "{id}" values
    body: dict[str, Any] | None = None
    ok: int = 200
    prepare: Callable[[], Any] | None = None  # what the request needs beforehand

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def template(self) -> str:
        """The OpenAPI path this row stands for."""
        name = {
            "connection": "connection_id",
            "rotating_connection": "connection_id",
            "run": "run_id",
            "notification": "notification_id",
            "alert_rule": "rule_id",
            "alert_channel": "channel_id",
            "alert_delivery": "delivery_id",
            "onboarding": "onboarding_id",
        }
        path = self.path.replace("{id}", "{" + name.get(self.obj or "", "id") + "}")
        return "/api/v1" + path.replace("/inventory/managed_device", "/inventory/{kind}")

    def request(self, pk: int | None) -> tuple[str, str, dict[str, Any] | None]:
        path = self.path.replace("{id}", str(pk)) if self.obj else self.path
        body = self.body
        if self.body_obj is not None and body is not None:
            body = {k: (pk if v == "{id}" else v) for k, v in body.items()}
        return self.method, path, body


def _owner(workspace: Workspace) -> Any:
    return Membership.objects.filter(workspace=workspace, role=Role.OWNER).first().user  # type: ignore[union-attr]


def _connection(workspace: Workspace, user: Any) -> int:
    """A fresh non-default connection without runs, so every allowed change succeeds."""
    owner = _owner(workspace)
    if not workspace.connections.exists():
        make_connection(workspace, owner, name="Default", entra_tenant_id=str(uuid.uuid4()))
    return int(
        make_connection(workspace, owner, name="Branch", entra_tenant_id=str(uuid.uuid4())).pk
    )


def _rotating_connection(workspace: Workspace, user: Any) -> int:
    """A connection with a new secret waiting beside its current one, no check started yet
    (as while another operation kept it busy)."""
    from tenantatlas.providers.credential_input import SecretInput
    from tenantatlas.providers.models import ProviderConnection
    from tenantatlas.providers.services.credentials import add_credential

    connection = ProviderConnection.objects.get(pk=_connection(workspace, user))
    secret = SecretInput(client_id=CLIENT_ID, client_secret=KNOWN_SECRET + "-next")
    add_credential(connection, secret, actor=SYSTEM, version=2, pending=True)
    return int(connection.pk)


def _queued_run(workspace: Workspace, user: Any) -> int:
    from tenantatlas.providers.models import ProviderConnection

    connection = ProviderConnection.objects.get(pk=_connection(workspace, user))
    return int(make_run(connection, status=RunStatus.QUEUED).pk)


def _notification(workspace: Workspace, user: Any) -> int:
    """The requester's own notification (someone else's is a 404)."""
    return int(
        Notification.objects.create(
            workspace=workspace, user=user, kind="run.finished", title="Done"
        ).pk
    )


def _alert_rule(workspace: Workspace, user: Any) -> int:
    from tenantatlas.alerts.configuration import RuleInput, create_rule

    data = RuleInput(name=f"Matrix rule {uuid.uuid4().hex[:8]}", event_kind="run.failed")
    return int(create_rule(actor=SYSTEM, workspace=workspace, data=data).pk)


def _alert_channel(workspace: Workspace, user: Any) -> int:
    """A webhook channel signed with the canary secret (no answer may contain it)."""
    from tenantatlas.alerts.configuration import ChannelInput, create_channel

    data = ChannelInput(
        name=f"Matrix hook {uuid.uuid4().hex[:8]}",
        kind="webhook",
        url="https://hooks.example.test/matrix",
        secret=KNOWN_SECRET,
    )
    return int(create_channel(actor=SYSTEM, workspace=workspace, data=data).channel.pk)


def _alert_delivery(workspace: Workspace, user: Any) -> int:
    from tenantatlas.alerts.configuration import send_test
    from tenantatlas.alerts.models import AlertChannel

    channel = AlertChannel.objects.get(pk=_alert_channel(workspace, user))
    return int(send_test(actor=SYSTEM, channel=channel).delivery.pk)


def _partner_apps() -> None:
    """Every workspace gets its partner app (the outsider's too: it answers for its own)."""
    from tenantatlas.providers.models import PartnerApp
    from tenantatlas.providers.tests.partner_apps import make_partner_app

    for workspace in Workspace.objects.exclude(pk__in=PartnerApp.objects.values("workspace")):
        make_partner_app(workspace, SYSTEM, name=f"Partner app {workspace.pk}")


def _onboarding(workspace: Workspace, user: Any) -> int:
    from tenantatlas.onboarding.services import start_onboarding

    _partner_apps()
    name = f"Matrix customer {uuid.uuid4().hex[:8]}"
    return start_onboarding(actor=SYSTEM, workspace=workspace, customer_name=name).pk


OBJECTS: dict[str, Callable[[Workspace, Any], int]] = {
    "connection": _connection,
    "rotating_connection": _rotating_connection,
    "run": _queued_run,
    "notification": _notification,
    "alert_rule": _alert_rule,
    "alert_channel": _alert_channel,
    "alert_delivery": _alert_delivery,
    "onboarding": _onboarding,
}

ENDPOINTS: list[Endpoint] = [
    Endpoint("GET", "/me", None),
    # connections
    Endpoint("GET", "/connections", PROVIDER_VIEW),
    Endpoint("GET", "/connections/{id}", PROVIDER_VIEW, obj="connection"),
    Endpoint(
        "POST",
        "/connections",
        PROVIDER_MANAGE,
        body={
            "display_name": "Matrix",
            "entra_tenant_id": "0f0f0f0f-1111-4222-8333-444444444444",
            "credential": SECRET_CREDENTIAL,
        },
        ok=201,
    ),
    Endpoint(
        "PATCH",
        "/connections/{id}",
        PROVIDER_MANAGE,
        obj="connection",
        body={"display_name": "Renamed"},
    ),
    Endpoint("DELETE", "/connections/{id}", PROVIDER_MANAGE, obj="connection", ok=204),
    Endpoint("POST", "/connections/{id}/default", PROVIDER_MANAGE, obj="connection"),
    Endpoint("POST", "/connections/{id}/enable", PROVIDER_MANAGE, obj="connection"),
    Endpoint("POST", "/connections/{id}/disable", PROVIDER_MANAGE, obj="connection"),
    Endpoint(
        "POST",
        "/connections/{id}/credential",
        PROVIDER_MANAGE,
        obj="connection",
        body={"credential": SECRET_CREDENTIAL},
        ok=202,  # the new secret waits for its verifying check
    ),
    Endpoint(
        "POST",
        "/connections/{id}/credential/verify",
        PROVIDER_MANAGE,
        obj="rotating_connection",
        ok=202,
    ),
    Endpoint(
        "DELETE", "/connections/{id}/credential/pending", PROVIDER_MANAGE, obj="rotating_connection"
    ),
    # operations and runs
    Endpoint(
        "POST",
        "/runs",
        PROVIDER_RUN,
        body_obj="connection",
        body={"connection_id": "{id}", "operation_type": "inventory.sync"},
        ok=202,
    ),
    Endpoint(
        "POST", "/runs/bulk", PROVIDER_RUN, body={"operation_type": "provider.health_check"}, ok=202
    ),
    Endpoint("GET", "/runs", PROVIDER_VIEW),
    Endpoint("GET", "/runs/{id}", PROVIDER_VIEW, obj="run"),
    Endpoint("POST", "/runs/{id}/cancel", PROVIDER_RUN, obj="run"),
    # inventory and compliance
    Endpoint("GET", "/inventory/managed_device", PROVIDER_VIEW),
    Endpoint("GET", "/compliance-snapshots", PROVIDER_VIEW),
    Endpoint("GET", "/changes", PROVIDER_VIEW),
    # notifications
    Endpoint("GET", "/notifications", PROVIDER_VIEW),
    Endpoint("POST", "/notifications/{id}/read", PROVIDER_VIEW, obj="notification"),
    Endpoint("POST", "/notifications/read", PROVIDER_VIEW),
    # alerts
    Endpoint("GET", "/alerts/rules", PROVIDER_VIEW),
    Endpoint(
        "POST",
        "/alerts/rules",
        PROVIDER_MANAGE,
        body={"name": "Matrix", "event_kind": "data.stale", "params": {"hours": 12}},
        ok=201,
    ),
    Endpoint("GET", "/alerts/rules/{id}", PROVIDER_VIEW, obj="alert_rule"),
    Endpoint(
        "PATCH",
        "/alerts/rules/{id}",
        PROVIDER_MANAGE,
        obj="alert_rule",
        body={"digest": "daily"},
    ),
    Endpoint("DELETE", "/alerts/rules/{id}", PROVIDER_MANAGE, obj="alert_rule", ok=204),
    Endpoint("GET", "/alerts/channels", PROVIDER_VIEW),
    Endpoint(
        "POST",
        "/alerts/channels",
        PROVIDER_MANAGE,
        body={"name": "Matrix", "kind": "webhook", "url": "https://hooks.example.test/new"},
        ok=201,
    ),
    Endpoint("GET", "/alerts/channels/{id}", PROVIDER_VIEW, obj="alert_channel"),
    Endpoint(
        "PATCH",
        "/alerts/channels/{id}",
        PROVIDER_MANAGE,
        obj="alert_channel",
        body={"name": "Renamed"},
    ),
    Endpoint("DELETE", "/alerts/channels/{id}", PROVIDER_MANAGE, obj="alert_channel", ok=204),
    Endpoint("POST", "/alerts/channels/{id}/secret", PROVIDER_MANAGE, obj="alert_channel", body={}),
    Endpoint("POST", "/alerts/channels/{id}/test", PROVIDER_MANAGE, obj="alert_channel", ok=202),
    Endpoint("GET", "/alerts/channels/{id}/deliveries", PROVIDER_VIEW, obj="alert_channel"),
    Endpoint("GET", "/alerts/deliveries/{id}", PROVIDER_VIEW, obj="alert_delivery"),
    # onboarding
    Endpoint("GET", "/partner-app", PROVIDER_VIEW, prepare=_partner_apps),
    Endpoint("GET", "/onboardings", PROVIDER_VIEW),
    Endpoint(
        "POST",
        "/onboardings",
        PROVIDER_MANAGE,
        body={"customer_name": "Matrix customer"},
        ok=201,
        prepare=_partner_apps,
    ),
    Endpoint(
        "POST",
        "/partner-app/bulk-add",
        PROVIDER_MANAGE,
        body={"entries": [f"{uuid.uuid4()}, Matrix bulk customer"]},
        prepare=_partner_apps,
    ),
    Endpoint("POST", "/onboardings/{id}/renew", PROVIDER_MANAGE, obj="onboarding"),
    Endpoint("POST", "/onboardings/{id}/cancel", PROVIDER_MANAGE, obj="onboarding"),
    # audit
    Endpoint("GET", "/audit-events", AUDIT_VIEW),
]
