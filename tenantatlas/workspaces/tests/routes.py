"""The route table behind the access matrix (test_access_matrix.py).

ADDING A PAGE? Append a row to ``WORKSPACE_ROUTES`` (or ``GLOBAL_ROUTES`` for a route outside
``/w/<slug>/``). ``test_it_has_a_row_for_every_workspace_route`` compares this table with the URL
resolver, so a new route without a row fails the suite.

A row names the URL, the HTTP method, the capability the view requires and, when the URL addresses
an object by ``<int:pk>``, the kind of object (a key of ``OBJECTS``: add a factory there for a new
kind). The expected answer for every actor is *derived* from ``capabilities.py``: anonymous →
sign-in redirect, outsider → 404, member without the capability → 403, member with it → ``ok``.
An allowed POST must change something: it writes an audit event unless the row says
``audited=False`` (e.g. marking one's own notification read). Rows that accept GET and POST get
one row per method.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.urls import reverse
from django.utils import timezone

from tenantatlas.lib.actors import SYSTEM
from tenantatlas.providers.models import ProviderConnection
from tenantatlas.testing import make_connection, make_user
from tenantatlas.workspaces.capabilities import (
    AUDIT_VIEW,
    PROVIDER_MANAGE,
    PROVIDER_RUN,
    PROVIDER_VIEW,
    WORKSPACE_MANAGE,
)
from tenantatlas.workspaces.models import Membership, Role, Workspace

NEW_TENANT_ID = "0f0f0f0f-1111-4222-8333-444444444444"
CLIENT_ID = "5e5e5e5e-6666-4777-8888-999999999999"


@dataclass(frozen=True)
class Route:
    """One page route as one actor would request it."""

    name: str  # "namespace:url_name"
    capability: str  # what the view requires (see capabilities.py)
    method: str = "GET"
    obj: str | None = None  # kind of object the <int:pk> addresses: a key of OBJECTS
    data: dict[str, Any] = field(default_factory=dict)  # POST body for the allowed request
    ok: int = 200  # status for a member holding the capability
    kwargs: dict[str, Any] = field(default_factory=dict)  # URL arguments besides slug and pk
    audited: bool = True  # an allowed POST writes an audit event
    # Sets up what the request needs in the workspace beforehand (e.g. a partner app).
    prepare: Callable[[Workspace], Any] | None = None

    @property
    def id(self) -> str:
        return f"{self.method}-{self.name}"

    def url(self, workspace: Workspace, pk: int | None = None) -> str:
        kwargs: dict[str, Any] = {"slug": workspace.slug, **self.kwargs}
        if self.obj is not None:
            kwargs["pk"] = pk
        return reverse(self.name, kwargs=kwargs)


def _connection(workspace: Workspace, user: Any) -> int:
    """A second, non-default connection, so the allowed POSTs do real work on it."""
    owner = Membership.objects.filter(workspace=workspace, role=Role.OWNER).first()
    actor = owner.user if owner else None
    if not workspace.connections.exists():
        make_connection(workspace, actor, name="Default", entra_tenant_id=str(uuid.uuid4()))
    return make_connection(workspace, actor, name="Branch", entra_tenant_id=str(uuid.uuid4())).pk


def _with_new_secret(owner: Any) -> None:
    """A new secret waiting beside the current one, its check not started (a busy connection)."""
    from tenantatlas.providers.credential_input import SecretInput
    from tenantatlas.providers.services.credentials import add_credential
    from tenantatlas.providers.services.rotation import history_of

    history = history_of(owner)
    if not history.pending().exists():
        current = history.current().get()
        secret = SecretInput(client_id=str(current.client_id), client_secret=f"next-{uuid.uuid4()}")
        version = history.count() + 1
        add_credential(owner, secret, actor=SYSTEM, version=version, pending=True)


def _rotating_connection(workspace: Workspace, user: Any) -> int:
    connection = ProviderConnection.objects.get(pk=_connection(workspace, user))
    _with_new_secret(connection)
    return connection.pk


def _membership(workspace: Workspace, user: Any) -> int:
    """A read-only member who is not one of the cast."""
    member = make_user(f"member-{uuid.uuid4().hex[:8]}")
    return Membership.objects.create(workspace=workspace, user=member, role=Role.READONLY).pk


def _run(workspace: Workspace, user: Any) -> int:
    from tenantatlas.operations.models import OperationRun, RunStatus

    connection = ProviderConnection.objects.get(pk=_connection(workspace, user))
    return OperationRun.objects.create(
        workspace=workspace,
        connection=connection,
        operation_type="inventory.sync",
        scope_key=f"matrix:{connection.pk}",
        status=RunStatus.SUCCEEDED,
    ).pk


def _notification(workspace: Workspace, user: Any) -> int:
    """The requester's own notification (someone else's is a 404 even in the same workspace)."""
    from tenantatlas.notifications.models import Notification

    return Notification.objects.create(
        workspace=workspace, user=user, kind="run.finished", title="Inventory sync finished"
    ).pk


def _inventory_item(workspace: Workspace, user: Any) -> int:
    from tenantatlas.inventory.models import InventoryItem, InventoryKind

    connection = ProviderConnection.objects.get(pk=_connection(workspace, user))
    now = timezone.now()
    return InventoryItem.objects.create(
        workspace=workspace,
        connection=connection,
        kind=InventoryKind.MANAGED_DEVICE,
        external_id=str(uuid.uuid4()),
        display_name="LAPTOP-0001",
        first_seen_at=now,
        last_seen_at=now,
    ).pk


def _api_token(workspace: Workspace, user: Any) -> int:
    """The requester's own API token (someone else's is a 404 unless they hold workspace.manage)."""
    from tenantatlas.accounts.models import ApiToken

    return ApiToken.objects.create(
        workspace=workspace,
        user=user,
        name="Matrix token",
        prefix=uuid.uuid4().hex[:8],
        token_hash=uuid.uuid4().hex * 2,
        capabilities=[PROVIDER_VIEW],
    ).pk


def _invitation(workspace: Workspace, user: Any) -> int:
    """A pending invitation of the workspace for someone who has no account."""
    from tenantatlas.members.services import invite_member

    identifier = f"invitee-{uuid.uuid4().hex[:8]}@example.test"
    invitation, _ = invite_member(
        actor=SYSTEM, workspace=workspace, identifier=identifier, role=Role.READONLY
    )
    return invitation.pk


def _alert_rule(workspace: Workspace, user: Any) -> int:
    from tenantatlas.alerts.configuration import RuleInput, create_rule

    name = f"Matrix rule {uuid.uuid4().hex[:8]}"
    data = RuleInput(name=name, event_kind="run.failed")
    return create_rule(actor=SYSTEM, workspace=workspace, data=data).pk


def _alert_channel(workspace: Workspace, user: Any) -> int:
    """A webhook channel (it has a signing secret to replace and can be sent a test)."""
    from tenantatlas.alerts.configuration import ChannelInput, create_channel

    name = f"Matrix hook {uuid.uuid4().hex[:8]}"
    data = ChannelInput(name=name, kind="webhook", url="https://hooks.example.test/matrix")
    return create_channel(actor=SYSTEM, workspace=workspace, data=data).channel.pk


def _partner_app(workspace: Workspace) -> Any:
    from tenantatlas.providers.tests.partner_apps import make_partner_app

    if not hasattr(workspace, "partner_app"):
        make_partner_app(workspace, SYSTEM)
    return workspace.partner_app


def _rotating_partner_app(workspace: Workspace) -> Any:
    partner_app = _partner_app(workspace)
    _with_new_secret(partner_app)
    return partner_app


def _onboarding(workspace: Workspace, user: Any) -> int:
    """A pending onboarding (consent link) for the workspace's partner app."""
    from tenantatlas.onboarding.services import start_onboarding

    _partner_app(workspace)
    name = f"Matrix customer {uuid.uuid4().hex[:8]}"
    return start_onboarding(actor=SYSTEM, workspace=workspace, customer_name=name).pk


# Object kinds addressed by <int:pk>: factory(workspace, requesting user) -> pk of a fresh object
# of that workspace. The requesting user matters only for per-user objects (notifications).
OBJECTS: dict[str, Callable[[Workspace, Any], int]] = {
    "connection": _connection,
    "rotating_connection": _rotating_connection,
    "membership": _membership,
    "run": _run,
    "notification": _notification,
    "inventory_item": _inventory_item,
    "api_token": _api_token,
    "invitation": _invitation,
    "alert_rule": _alert_rule,
    "alert_channel": _alert_channel,
    "onboarding": _onboarding,
}

_SECRET_FORM = {
    "client_id": CLIENT_ID,
    "credential_kind": "client_secret",
    "client_secret": "matrix-secret-value-0001",
}
_ALERT_RULE_FORM = {
    "name": "Matrix rule",
    "event_kind": "run.failed",
    "scope": "all",
    "min_severity": "20",
    "digest": "immediate",
}
_ALERT_CHANNEL_FORM = {"name": "Matrix channel", "kind": "in_app", "is_enabled": "on"}
_CONNECTION_FORM = {
    "display_name": "Matrix connection",
    "entra_tenant_id": NEW_TENANT_ID,
    "cloud": "global",
    **_SECRET_FORM,
}

_PARTNER_APP_FORM = {"display_name": "Matrix partner app", "cloud": "global", **_SECRET_FORM}

WORKSPACE_ROUTES: list[Route] = [
    # workspaces/urls.py
    Route("workspaces:workspace", PROVIDER_VIEW, ok=302),
    # overview/urls.py
    Route("overview:workspace", PROVIDER_VIEW),
    # members/urls.py
    Route("members:list", WORKSPACE_MANAGE),
    # Inviting answers with the page (and the link shown once), whether or not the account exists.
    Route(
        "members:list",
        WORKSPACE_MANAGE,
        method="POST",
        data={"user": "newcomer@example.test", "role": Role.READONLY},
    ),
    Route(
        "members:role",
        WORKSPACE_MANAGE,
        method="POST",
        obj="membership",
        data={"role": Role.OPERATOR},
        ok=302,
    ),
    # Removing asks first (GET: the confirmation); only its POST removes.
    Route("members:remove", WORKSPACE_MANAGE, obj="membership"),
    Route("members:remove", WORKSPACE_MANAGE, method="POST", obj="membership", ok=302),
    Route("members:invitation_revoke", WORKSPACE_MANAGE, method="POST", obj="invitation", ok=302),
    # providers/urls.py
    Route("providers:list", PROVIDER_VIEW),
    Route("providers:create", PROVIDER_MANAGE),
    Route("providers:create", PROVIDER_MANAGE, method="POST", data=_CONNECTION_FORM, ok=302),
    Route("providers:detail", PROVIDER_VIEW, obj="connection"),
    Route("providers:actions", PROVIDER_VIEW, obj="connection"),
    Route("providers:edit", PROVIDER_MANAGE, obj="connection"),
    Route(
        "providers:edit",
        PROVIDER_MANAGE,
        method="POST",
        obj="connection",
        data={**_CONNECTION_FORM, "client_secret": ""},
        ok=302,
    ),
    Route("providers:rotate", PROVIDER_MANAGE, obj="connection"),
    Route(
        "providers:rotate",
        PROVIDER_MANAGE,
        method="POST",
        obj="connection",
        data=_SECRET_FORM,
        ok=302,
    ),
    # Rotation with overlap: start the waiting secret's check by hand, or discard it.
    Route(
        "providers:rotate_verify",
        PROVIDER_MANAGE,
        method="POST",
        obj="rotating_connection",
        ok=302,
    ),
    Route(
        "providers:rotate_discard",
        PROVIDER_MANAGE,
        method="POST",
        obj="rotating_connection",
        ok=302,
    ),
    Route("providers:set_default", PROVIDER_MANAGE, method="POST", obj="connection", ok=302),
    Route("providers:status", PROVIDER_MANAGE, obj="connection"),
    Route("providers:status", PROVIDER_MANAGE, method="POST", obj="connection", ok=302),
    Route("providers:delete", PROVIDER_MANAGE, obj="connection"),
    Route("providers:delete", PROVIDER_MANAGE, method="POST", obj="connection", ok=302),
    Route(
        "providers:start",
        PROVIDER_RUN,
        method="POST",
        obj="connection",
        kwargs={"operation_type": "provider.health_check"},
        ok=302,
    ),
    # Run on all shown: GET asks (naming the count), POST starts and answers with the summary.
    Route("providers:run_all", PROVIDER_RUN, kwargs={"operation_type": "provider.health_check"}),
    Route(
        "providers:run_all",
        PROVIDER_RUN,
        method="POST",
        kwargs={"operation_type": "provider.health_check"},
    ),
    Route(
        "providers:schedules",
        PROVIDER_MANAGE,
        method="POST",
        obj="connection",
        data={"operation_type": "inventory.sync", "interval_minutes": "60"},
        ok=302,
    ),
    # onboarding/urls.py: everyone sees the partner app and the onboardings; provider.manage
    # sets up the app and starts, renews and cancels consent links.
    Route("onboarding:list", PROVIDER_VIEW, prepare=_partner_app),
    Route("onboarding:partner_app", PROVIDER_VIEW, prepare=_partner_app),
    Route("onboarding:partner_app_edit", PROVIDER_MANAGE),
    Route(
        "onboarding:partner_app_edit",
        PROVIDER_MANAGE,
        method="POST",
        data=_PARTNER_APP_FORM,
        ok=302,
    ),
    Route(
        "onboarding:partner_app_verify",
        PROVIDER_MANAGE,
        method="POST",
        ok=302,
        prepare=_rotating_partner_app,
    ),
    Route(
        "onboarding:partner_app_discard",
        PROVIDER_MANAGE,
        method="POST",
        ok=302,
        prepare=_rotating_partner_app,
    ),
    Route("onboarding:start", PROVIDER_MANAGE, prepare=_partner_app),
    Route(
        "onboarding:start",
        PROVIDER_MANAGE,
        method="POST",
        data={"customer_name": "Matrix customer"},
        ok=302,
        prepare=_partner_app,
    ),
    # Bulk add: a list of tenant ids for the partner app; check all starts their checks.
    Route("onboarding:bulk_add", PROVIDER_MANAGE, prepare=_partner_app),
    Route(
        "onboarding:bulk_add",
        PROVIDER_MANAGE,
        method="POST",
        data={"entries": NEW_TENANT_ID + ", Matrix bulk customer"},
        prepare=_partner_app,
    ),
    Route("onboarding:bulk_check", PROVIDER_MANAGE, method="POST", data={"connection": "0"}),
    Route("onboarding:renew", PROVIDER_MANAGE, method="POST", obj="onboarding", ok=302),
    Route("onboarding:cancel", PROVIDER_MANAGE, method="POST", obj="onboarding", ok=302),
    # audit/urls.py
    Route("audit:log", AUDIT_VIEW),
    Route("audit:export", AUDIT_VIEW),
    # operations/urls.py (Monitoring)
    Route("operations:runs", PROVIDER_VIEW),
    Route("operations:run", PROVIDER_VIEW, obj="run"),
    # The matrix run has finished: cancel answers with a message and changes nothing.
    Route("operations:cancel", PROVIDER_RUN, method="POST", obj="run", ok=302, audited=False),
    # notifications/urls.py
    Route("notifications:list", PROVIDER_VIEW),
    Route("notifications:bell", PROVIDER_VIEW),
    Route("notifications:read_all", PROVIDER_VIEW, method="POST", ok=302, audited=False),
    Route(
        "notifications:read",
        PROVIDER_VIEW,
        method="POST",
        obj="notification",
        ok=302,
        audited=False,
    ),
    # inventory/urls.py
    Route("inventory:list", PROVIDER_VIEW),
    Route("inventory:export", PROVIDER_VIEW),
    Route("inventory:item", PROVIDER_VIEW, obj="inventory_item"),
    Route("inventory:item_changes", PROVIDER_VIEW, obj="inventory_item"),
    Route("inventory:changes", PROVIDER_VIEW),
    Route("inventory:changes_export", PROVIDER_VIEW),
    Route("inventory:compliance", PROVIDER_VIEW),
    # accounts/urls.py (API tokens: every member manages their own)
    Route("accounts:tokens", PROVIDER_VIEW),
    Route(
        "accounts:tokens",
        PROVIDER_VIEW,
        method="POST",
        data={"name": "Matrix", "capabilities": [PROVIDER_VIEW]},
    ),
    Route("accounts:token_revoke", PROVIDER_VIEW, method="POST", obj="api_token", ok=302),
    # alerts/urls.py: everyone sees rules, channels and delivery logs; provider.manage changes
    # them. Deleting asks first (GET); replacing a secret answers with the new one (200).
    Route("alerts:rules", PROVIDER_VIEW),
    Route("alerts:rule_create", PROVIDER_MANAGE),
    Route("alerts:rule_create", PROVIDER_MANAGE, method="POST", data=_ALERT_RULE_FORM, ok=302),
    Route("alerts:rule_edit", PROVIDER_MANAGE, obj="alert_rule"),
    Route(
        "alerts:rule_edit",
        PROVIDER_MANAGE,
        method="POST",
        obj="alert_rule",
        data=_ALERT_RULE_FORM,
        ok=302,
    ),
    Route("alerts:rule_delete", PROVIDER_MANAGE, obj="alert_rule"),
    Route("alerts:rule_delete", PROVIDER_MANAGE, method="POST", obj="alert_rule", ok=302),
    Route("alerts:channels", PROVIDER_VIEW),
    Route("alerts:channel_create", PROVIDER_MANAGE),
    Route(
        "alerts:channel_create",
        PROVIDER_MANAGE,
        method="POST",
        data=_ALERT_CHANNEL_FORM,
        ok=302,
    ),
    Route("alerts:channel", PROVIDER_VIEW, obj="alert_channel"),
    Route("alerts:channel_edit", PROVIDER_MANAGE, obj="alert_channel"),
    Route(
        "alerts:channel_edit",
        PROVIDER_MANAGE,
        method="POST",
        obj="alert_channel",
        data={"name": "Matrix hook renamed", "is_enabled": "on"},
        ok=302,
    ),
    Route("alerts:channel_secret", PROVIDER_MANAGE, obj="alert_channel"),
    Route("alerts:channel_secret", PROVIDER_MANAGE, method="POST", obj="alert_channel"),
    Route("alerts:channel_test", PROVIDER_MANAGE, method="POST", obj="alert_channel", ok=302),
    Route("alerts:channel_delete", PROVIDER_MANAGE, obj="alert_channel"),
    Route("alerts:channel_delete", PROVIDER_MANAGE, method="POST", obj="alert_channel", ok=302),
]


def _own_invitation(user: Any) -> dict[str, Any]:
    """A pending invitation for the user to a workspace they are not in: {"pk": …}."""
    return {"pk": _invitation_for(user)[0]}


def _own_invitation_link(user: Any) -> dict[str, Any]:
    """The single-use link of a pending invitation for the user: {"token": …}."""
    return {"token": _invitation_for(user)[1]}


def _invitation_for(user: Any) -> tuple[int, str]:
    from tenantatlas.members.services import invite_member

    slug = f"inviting-{uuid.uuid4().hex[:8]}"
    workspace = Workspace.objects.create(name=f"Inviting {slug}", slug=slug)
    invitation, token = invite_member(
        actor=SYSTEM, workspace=workspace, identifier=user.username, role=Role.READONLY
    )
    return invitation.pk, token


def _own_microsoft_identity(user: Any) -> dict[str, Any]:
    """A Microsoft account linked to the user: {"pk": …}."""
    from tenantatlas.accounts.models import MicrosoftIdentity

    identity = MicrosoftIdentity.objects.create(
        user=user,
        tenant_id=str(uuid.uuid4()),
        object_id=str(uuid.uuid4()),
        username=f"{user.username}@contoso.example",
        linked_at=timezone.now(),
    )
    return {"pk": identity.pk}


# Per-user objects addressed by routes outside workspaces: factory(addressee) -> URL kwargs.
USER_OBJECTS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "invitation": _own_invitation,
    "invitation_link": _own_invitation_link,
    "microsoft_identity": _own_microsoft_identity,
}


@dataclass(frozen=True)
class GlobalRoute:
    """A route outside any workspace: public, or for any signed-in user.

    With ``obj`` (a key of ``USER_OBJECTS``) it addresses one of the visitor's own objects; any
    other signed-in user gets ``foreign`` and changes nothing.
    """

    name: str
    method: str = "GET"
    public: bool = False
    data: dict[str, Any] = field(default_factory=dict)
    obj: str | None = None
    foreign: int = 404
    kwargs: dict[str, Any] = field(default_factory=dict)  # URL arguments of a non-object route
    answers: tuple[int, ...] = (200, 302)  # for the visitors the route serves

    @property
    def id(self) -> str:
        return f"{self.method}-{self.name}"

    def url(self, addressee: Any | None = None) -> str:
        """The URL; for an object route, of a fresh object addressed to `addressee`."""
        if self.obj is None:
            return reverse(self.name, kwargs=self.kwargs or None)
        owner = addressee or make_user(f"addressee-{uuid.uuid4().hex[:8]}")
        return reverse(self.name, kwargs=USER_OBJECTS[self.obj](owner))


GLOBAL_ROUTES: list[GlobalRoute] = [
    GlobalRoute("overview:home"),
    GlobalRoute("members:start"),
    GlobalRoute("members:start", method="POST", data={"name": "Another"}),
    GlobalRoute("workspaces:switch", method="POST", data={"slug": "acme"}),
    # Invitations are the invitee's own: someone else's is a 404, its link a clear 403.
    GlobalRoute("members:invitations"),
    GlobalRoute("members:invitation_accept", method="POST", obj="invitation"),
    GlobalRoute("members:invitation_decline", method="POST", obj="invitation"),
    GlobalRoute("members:invitation_link", obj="invitation_link", foreign=403),
    GlobalRoute(
        "members:invitation_link",
        method="POST",
        obj="invitation_link",
        data={"action": "accept"},
        foreign=403,
    ),
    GlobalRoute("accounts:login", public=True),
    GlobalRoute("accounts:logout", method="POST", public=True),
    # Sign in with Microsoft (accounts/tests/test_microsoft_sign_in.py runs it enabled): here it
    # is off, so its routes answer 404 to everyone they do not send to sign-in first.
    GlobalRoute("accounts:account"),
    GlobalRoute("accounts:microsoft_sign_in", public=True, answers=(404,)),
    GlobalRoute("accounts:microsoft_callback", public=True, answers=(404,)),
    GlobalRoute("accounts:microsoft_link", method="POST", answers=(404,)),
    GlobalRoute("accounts:microsoft_unlink", method="POST", obj="microsoft_identity"),
    # A break-glass link is a bearer credential: anyone holding it may use it; a wrong one is 400.
    GlobalRoute(
        "accounts:break_glass",
        public=True,
        kwargs={"uidb64": "MQ", "token": "cl0s3d-0000000000000000"},
        answers=(400,),
    ),
    GlobalRoute(
        "accounts:break_glass",
        method="POST",
        public=True,
        kwargs={"uidb64": "MQ", "token": "cl0s3d-0000000000000000"},
        answers=(400,),
    ),
    GlobalRoute("healthz", public=True),
    GlobalRoute("readyz", public=True),
]

# Path prefixes with their own access rules and tests (bearer tokens, static files, the
# metrics endpoint: observability/tests/test_metrics_access.py; the consent callback, public and
# answered from its state alone: onboarding/tests/test_consent_callback.py).
GLOBAL_PREFIXES_TESTED_ELSEWHERE: tuple[str, ...] = (
    "api/",
    "static/",
    "metrics",
    "onboarding/consent/",
)
