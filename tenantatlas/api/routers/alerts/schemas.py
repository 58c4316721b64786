"""Request and response shapes of the alerts endpoints (``routers/alerts``). Secrets are
input-only: a channel answers ``secret_set`` and ``url_display``, never its URL or secret."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any, Literal

from ninja import Schema
from pydantic import Field

from tenantatlas.alerts.configuration.shown import shown_errors
from tenantatlas.alerts.models import (
    ChannelKind,
    ChannelState,
    DeliveryStatus,
    Digest,
    EventKind,
    Severity,
)
from tenantatlas.api.schemas import InventoryKindName, Name, ObjectId, Page, Secret, Text
from tenantatlas.workspaces.models import Role

SEVERITY_NAMES = {Severity.INFO: "info", Severity.WARNING: "warning", Severity.CRITICAL: "critical"}
SEVERITY_OF = {name: value for value, name in SEVERITY_NAMES.items()}
if TYPE_CHECKING:
    type EventKindName = str
    type SeverityName = str
    type DigestName = str
    type RoleName = str
    type ChannelKindName = str
    type ChannelStateName = str
    type DeliveryStatusName = str
else:  # enums in the OpenAPI document, from the model choices
    EventKindName = Literal[tuple(EventKind.values)]
    SeverityName = Literal[tuple(SEVERITY_OF)]
    DigestName = Literal[tuple(Digest.values)]
    RoleName = Literal[tuple(Role.values)]
    ChannelKindName = Literal[tuple(ChannelKind.values)]
    ChannelStateName = Literal[tuple(ChannelState.values)]
    DeliveryStatusName = Literal[tuple(DeliveryStatus.values)]
Address = Annotated[Text, Field(max_length=254)]
Url = Annotated[Text, Field(max_length=2000, json_schema_extra={"writeOnly": True})]
SigningSecret = Annotated[Secret, Field(max_length=256)]


class RuleParams(Schema):
    """The event kind's own condition; fields of other kinds are ignored."""

    hours: int | None = Field(
        default=None,
        ge=1,
        le=720,
        description="data.stale: hours without a successful sync or snapshot",
    )
    share_above: float | None = Field(
        default=None, ge=0, le=99.9, allow_inf_nan=False, description="compliance.noncompliant: %"
    )
    points_up: float | None = Field(
        default=None,
        ge=0.1,
        le=100,
        allow_inf_nan=False,
        description="compliance.noncompliant: points",
    )
    kinds: list[InventoryKindName] | None = Field(
        default=None, description="inventory.changes: kinds of item (none: every kind)"
    )


class RuleIn(Schema):
    name: Name
    event_kind: EventKindName
    is_enabled: bool = True
    all_connections: bool = True
    connection_ids: list[ObjectId] = Field(default_factory=list, max_length=1000)
    min_severity: SeverityName = "warning"
    digest: DigestName = "immediate"
    recipient_roles: list[RoleName] = Field(default_factory=list, max_length=10)
    params: RuleParams = Field(default_factory=lambda: RuleParams())
    channel_ids: list[ObjectId] = Field(default_factory=list, max_length=100)


class RuleUpdateIn(Schema):
    """Change any of these; `params` replaces the rule's condition as a whole."""

    name: Name | None = None
    event_kind: EventKindName | None = None
    is_enabled: bool | None = None
    all_connections: bool | None = None
    connection_ids: list[ObjectId] | None = Field(None, max_length=1000)
    min_severity: SeverityName | None = None
    digest: DigestName | None = None
    recipient_roles: list[RoleName] | None = Field(None, max_length=10)
    params: RuleParams | None = None
    channel_ids: list[ObjectId] | None = Field(None, max_length=100)


class RuleOut(Schema):
    id: int
    name: str
    event_kind: str
    is_enabled: bool
    all_connections: bool
    connection_ids: list[int]
    min_severity: str
    digest: str
    recipient_roles: list[str]
    params: RuleParams
    channel_ids: list[int]
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_connection_ids(obj: Any) -> list[int]:
        return sorted(c.pk for c in obj.connections.all())

    @staticmethod
    def resolve_channel_ids(obj: Any) -> list[int]:
        return sorted(c.pk for c in obj.channels.all())

    @staticmethod
    def resolve_min_severity(obj: Any) -> str:
        return SEVERITY_NAMES.get(obj.min_severity, "unknown")


class RulePage(Page):
    items: list[RuleOut]


class ChannelIn(Schema):
    name: Name
    kind: ChannelKindName
    is_enabled: bool = True
    to_members: bool = Field(True, description="in_app and email: the members in each rule's roles")
    addresses: list[Address] = Field(
        default_factory=list, max_length=20, description="email: other recipients"
    )
    url: Url | None = Field(
        None, description="webhook: the receiver; teams: the workflow URL (kept as a secret)"
    )
    secret: SigningSecret | None = Field(
        None, description="webhook: the signing secret; none given: one is generated"
    )


class ChannelUpdateIn(Schema):
    """Change any of these; `url` and `secret` replace the current ones (a channel's kind stays)."""

    name: Name | None = None
    is_enabled: bool | None = None
    to_members: bool | None = None
    addresses: list[Address] | None = Field(None, max_length=20)
    url: Url | None = None
    secret: SigningSecret | None = None


class ChannelOut(Schema):
    """A channel without its secrets: the URL only as `scheme://host/…`."""

    id: int
    name: str
    kind: str
    is_enabled: bool
    to_members: bool
    addresses: list[str]
    url_display: str
    secret_set: bool = Field(
        description="A signing secret (webhook) or workflow URL (teams) is set."
    )
    secret_set_at: dt.datetime | None
    state: ChannelStateName
    failing_since: dt.datetime | None
    consecutive_failures: int
    last_error: str
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_secret_set(obj: Any) -> bool:
        return bool(obj.secret_ciphertext)

    @staticmethod
    def resolve_last_error(obj: Any) -> str:
        return shown_errors(obj)(obj.last_error)


class ChannelSecretOut(ChannelOut):
    signing_secret: str | None = Field(
        description="Only in this answer, and only when the server generated the secret: give it "
        "to the receiver now, it is never returned again."
    )


class ChannelPage(Page):
    items: list[ChannelOut]


class SecretIn(Schema):
    secret: SigningSecret | None = Field(None, description="None given: one is generated.")


class DeliveryOut(Schema):
    id: int
    channel_id: int
    rule_id: int | None
    key: str = Field(description="The same on every attempt: receivers dedupe on it.")
    is_test: bool
    requested_by: str | None
    status: DeliveryStatusName
    attempts: int
    last_status_code: int | None
    last_error: str
    next_attempt_at: dt.datetime
    created_at: dt.datetime
    delivered_at: dt.datetime | None

    @staticmethod
    def resolve_requested_by(obj: Any) -> str | None:
        return obj.requested_by.username if obj.requested_by_id else None

    @staticmethod
    def resolve_last_error(obj: Any) -> str:
        return shown_errors(obj.channel)(obj.last_error)


class DeliveryPage(Page):
    items: list[DeliveryOut]
