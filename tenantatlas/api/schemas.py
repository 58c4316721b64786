"""Request and response shapes of the JSON API. Secrets are input-only (writeOnly), never output."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any, Literal
from uuid import UUID

from ninja import Schema
from pydantic import AfterValidator, Field, SecretStr, StringConstraints

from tenantatlas.inventory.models import ComplianceState, InventoryKind
from tenantatlas.lib import dates
from tenantatlas.lib.keyset import MAX_CURSOR_CHARS
from tenantatlas.operations.models import RunStatus
from tenantatlas.operations.registry import OPERATIONS
from tenantatlas.providers.credential_input import MAX_PEM_SIZE

MAX_ID = 2**63 - 1


def _storable(value: str) -> str:
    """Text every database can store: no NUL characters, no lone surrogates."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


def _storable_secret(value: SecretStr) -> SecretStr:
    _storable(value.get_secret_value())
    return value


def _aware(value: dt.datetime) -> dt.datetime:
    """A datetime with a time zone; whether it is in range is the caller's rule to tell."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(dates.NO_TIME_ZONE)
    return value


Text = Annotated[str, AfterValidator(_storable)]
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    AfterValidator(_storable),
]
Secret = Annotated[SecretStr, AfterValidator(_storable_secret)]
# Whether an expiry is acceptable: providers/credential_input.py (lib.dates.expiry_problem).
Expiry = Annotated[dt.datetime, AfterValidator(_aware)]
ObjectId = Annotated[int, Field(ge=1, le=MAX_ID)]
if TYPE_CHECKING:
    type OperationType = str
    type RunStatusName = str
    type InventoryKindName = str
    type ComplianceStateName = str
else:  # enums in the OpenAPI document, from the registries and model choices
    OperationType = Literal[tuple(OPERATIONS)]
    RunStatusName = Literal[tuple(RunStatus.values)]
    InventoryKindName = Literal[tuple(InventoryKind.values)]
    ComplianceStateName = Literal[tuple(ComplianceState.values)]


# -- errors ---------------------------------------------------------------------------------------


class ErrorDetail(Schema):
    code: str = Field(examples=["not_found"])
    message: str
    field: str | None = Field(None, description="The input field at fault, when there is one.")


class ErrorOut(Schema):
    """Every error answer: ``{"error": {"code", "message"}}``."""

    error: ErrorDetail


# -- connections ----------------------------------------------------------------------------------


class CredentialOut(Schema):
    """Facts about the current credential. The secret or private key is never returned."""

    kind: Literal["client_secret", "certificate"]
    client_id: UUID
    version: int
    fingerprint: str
    thumbprint_sha1: str
    thumbprint_sha256: str
    certificate_subject: str
    expires_at: dt.datetime | None
    created_at: dt.datetime


class NewCredentialOut(CredentialOut):
    """A credential entered by a rotation: ``pending`` while its connection check
    (``verification_run_id``) signs in with it, ``current`` once in use (at once when nothing
    could verify it), ``rejected`` if it did not pass."""

    state: Literal["current", "pending", "retired", "rejected"]
    verification_run_id: int | None
    rejected_reason_code: str


class ConnectionOut(Schema):
    id: int
    provider: str
    cloud: str
    display_name: str
    entra_tenant_id: UUID
    entra_tenant_name: str
    default_domain: str
    is_default: bool
    status: Literal["enabled", "disabled"]
    health: Literal["unknown", "healthy", "degraded", "unhealthy"]
    health_reason_code: str
    health_message: str
    health_checked_at: dt.datetime | None
    granted_permissions: list[str]
    missing_permissions: list[str]
    extra_permissions: list[str]
    credential: CredentialOut | None
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_credential(obj: Any) -> Any:
        return obj.current_credential


class SecretCredentialIn(Schema):
    """A client secret (write-only) of the app registration."""

    kind: Literal["client_secret"]
    client_id: UUID
    client_secret: Annotated[Secret, Field(min_length=1, max_length=1024)]
    expires_at: Expiry | None = Field(
        None, description="When the secret expires (as shown in Entra), for expiry warnings."
    )


class CertificateCredentialIn(Schema):
    """A certificate and its RSA private key as PEM text (write-only)."""

    kind: Literal["certificate"]
    client_id: UUID
    certificate_pem: Annotated[Secret, Field(min_length=1, max_length=MAX_PEM_SIZE)] = Field(
        description="The certificate; may also hold the private key (a combined PEM)."
    )
    private_key_pem: Annotated[Secret, Field(max_length=MAX_PEM_SIZE)] | None = None
    key_passphrase: Annotated[Secret, Field(max_length=1024)] | None = None
    accept_expired: bool = False


CredentialIn = Annotated[SecretCredentialIn | CertificateCredentialIn, Field(discriminator="kind")]


class ConnectionCreateIn(Schema):
    display_name: Name
    entra_tenant_id: UUID
    cloud: Annotated[Text, Field(max_length=30)] = "global"
    credential: CredentialIn


class ConnectionUpdateIn(Schema):
    """Change any of these; a credential given here rotates the current one."""

    display_name: Name | None = None
    entra_tenant_id: UUID | None = None
    cloud: Annotated[Text, Field(max_length=30)] | None = None
    client_id: UUID | None = Field(None, description="A new application id for the current secret.")
    credential: CredentialIn | None = None


class RotationOut(Schema):
    """A rotation's answer (202 while the new credential waits for its check)."""

    connection: ConnectionOut
    new_credential: NewCredentialOut
    message: str


class RotateCredentialIn(Schema):
    credential: CredentialIn


# -- runs -----------------------------------------------------------------------------------------


class RunOut(Schema):
    id: int
    connection_id: int
    connection_name: str
    operation_type: str
    status: RunStatusName
    trigger: str
    requested_by: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    heartbeat_at: dt.datetime | None
    cancel_requested_at: dt.datetime | None
    attempts: int
    progress_done: int
    progress_total: int | None
    summary_counts: dict[str, Any]
    reason_code: str
    failure_message: str

    @staticmethod
    def resolve_connection_name(obj: Any) -> str:
        return str(obj.connection.display_name)

    @staticmethod
    def resolve_requested_by(obj: Any) -> str:
        return str(obj.requested_by_label)


class ScopeBusyDetail(ErrorDetail):
    active_run: RunOut | None = Field(
        None, description="With `scope_busy`: the run that keeps the Entra tenant busy."
    )


class ScopeBusyOut(Schema):
    """409 on start: `scope_busy` (with the active run) or `connection_disabled`."""

    error: ScopeBusyDetail


class StartOperationIn(Schema):
    connection_id: ObjectId
    operation_type: OperationType


class RunFilters(Schema):
    status: RunStatusName | None = None
    operation_type: OperationType | None = None
    connection_id: ObjectId | None = None


class Page(Schema):
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )


class RunPage(Page):
    items: list[RunOut]


class CursorParams(Schema):
    cursor: Annotated[Text, Field(max_length=MAX_CURSOR_CHARS)] | None = None
    limit: Annotated[int, Field(ge=1, le=200)] = 50


# -- inventory and compliance ---------------------------------------------------------------------


class InventoryItemOut(Schema):
    id: int
    connection_id: int
    kind: InventoryKindName
    external_id: str
    display_name: str
    platform: str
    os_version: str
    compliance_state: str
    user_principal_name: str
    last_sync_at: dt.datetime | None
    odata_type: str
    first_seen_at: dt.datetime
    last_seen_at: dt.datetime
    removed_at: dt.datetime | None


class InventoryFilters(Schema):
    connection_id: ObjectId | None = None
    q: Annotated[Text, Field(max_length=200)] | None = Field(
        None, description="Searches the name and the user principal name."
    )
    platform: Annotated[Text, Field(max_length=60)] | None = None
    compliance_state: ComplianceStateName | None = None
    include_removed: bool = False


class InventoryPage(Page):
    items: list[InventoryItemOut]


class ComplianceSnapshotOut(Schema):
    id: int
    connection_id: int
    run_id: int | None
    taken_at: dt.datetime
    compliant: int
    noncompliant: int
    in_grace_period: int
    conflict: int
    error: int
    unknown: int
    config_manager: int
    stale: int
    stale_after_days: int
    total: int


class SnapshotPage(Page):
    items: list[ComplianceSnapshotOut]


# -- notifications and audit ----------------------------------------------------------------------


class NotificationOut(Schema):
    id: int
    kind: str
    title: str
    body: str
    url: str
    created_at: dt.datetime
    read_at: dt.datetime | None


class NotificationPage(Page):
    items: list[NotificationOut]


class MarkedRead(Schema):
    marked: int


class AuditEventOut(Schema):
    id: int
    created_at: dt.datetime
    actor: str
    action: str
    target_type: str
    target_id: str
    target_label: str
    metadata: dict[str, Any]
    ip: str | None
    request_id: str
    via: str

    @staticmethod
    def resolve_actor(obj: Any) -> str:
        return str(obj.actor_label)


class AuditFilters(Schema):
    action: Annotated[Text, Field(max_length=60)] | None = Field(
        None, description="Action prefix, e.g. `connection.` or `operation.started`."
    )
    actor: Annotated[Text, Field(max_length=200)] | None = None
    target_type: Annotated[Text, Field(max_length=60)] | None = None
    since: dt.date | None = None
    until: dt.date | None = None


class AuditPage(Page):
    items: list[AuditEventOut]


# -- the token itself -----------------------------------------------------------------------------


class WorkspaceOut(Schema):
    slug: str
    name: str


class MeOut(Schema):
    """Who the token acts as, where, and what it may do right now."""

    user: str
    workspace: WorkspaceOut
    role: str
    token_name: str
    token_prefix: str
    capabilities: list[str] = Field(description="The token's capabilities within the role today.")
    expires_at: dt.datetime | None
