"""ProviderGateway: the only place that turns a connection into an authenticated Graph client.

It alone calls the CredentialManager, and it only runs inside background jobs. Every decrypt is
audited (`credential.decrypted`) and every secret it handles is registered with the run's redactor.

It also guards the tenant identity: every token it hands out must name the connection's tenant in
its ``tid`` claim, and :meth:`ProviderGateway.verify_tenant` compares ``/organization`` with it.
Operations call that before they store anything, so another tenant's data never lands under a
connection (``provider.tenant_mismatch``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import jwt

from tenantatlas.audit.services import record_event
from tenantatlas.graph.clouds import get_cloud
from tenantatlas.graph.recorder import RequestRecorder
from tenantatlas.lib.actors import SYSTEM
from tenantatlas.lib.reasons import ProviderError
from tenantatlas.lib.sanitize import Redactor
from tenantatlas.providers.credentials import CredentialManager, KeyCoverage, key_coverage
from tenantatlas.providers.models import (
    CredentialQuerySet,
    ProviderConnection,
    ProviderCredential,
)

if TYPE_CHECKING:
    from tenantatlas.graph.client import GraphClient
    from tenantatlas.graph.tokens import AccessToken, TokenSource

MISMATCH_MESSAGE = "Microsoft answered for a different Entra tenant than this connection names."


def _token_tenant_id(token: str) -> str:
    """The ``tid`` claim, read without verification (only Graph validates its tokens)."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return ""
    return str(claims.get("tid") or "").lower()


class TenantBoundTokens:
    """A token source that refuses every token issued for another tenant than the connection's."""

    def __init__(self, tokens: TokenSource, tenant_id: str) -> None:
        self._tokens = tokens
        self.tenant_id = tenant_id.lower()

    def get_token(self, force_refresh: bool = False) -> AccessToken:
        token = self._tokens.get_token(force_refresh)
        claimed = _token_tenant_id(token.value)
        if claimed != self.tenant_id:
            raise ProviderError(
                "provider.tenant_mismatch",
                MISMATCH_MESSAGE + " (the access token names another tenant)",
                details={"token_tenant_id": claimed},
            )
        return token


def encryption_key_coverage() -> KeyCoverage:
    """How the configured encryption keys fare on a few stored credentials (the system check)."""
    return key_coverage(CredentialManager())


class ProviderGateway:
    def __init__(
        self,
        connection: ProviderConnection,
        *,
        redactor: Redactor,
        recorder: RequestRecorder | None = None,
        purpose: str = "",
    ) -> None:
        self.connection = connection
        self.redactor = redactor
        self.recorder = recorder if recorder is not None else RequestRecorder()
        self.purpose = purpose
        self.cloud = get_cloud(connection.cloud)

    def current_credential(self) -> ProviderCredential:
        """The connection's own credential, or for a partner app's connection the partner app's
        (the same app id signs in to every consenting tenant, with this connection's tenant id)."""
        credential = self._credentials().current().first()
        if credential is None:
            owner = "partner app" if self.connection.partner_app_id else "connection"
            raise ProviderError("credential.missing", f"The {owner} has no current credential.")
        return credential

    def pending_credential(self, credential_id: str) -> ProviderCredential:
        """The new credential a verifying check signs in with (services/rotation.py): still
        pending, and the connection's own or its partner app's."""
        credential = self._credentials().pending().filter(pk=credential_id).first()
        if credential is None:
            raise ProviderError(
                "rotation.superseded",
                "The credential this check was to verify is no longer waiting for it.",
            )
        return credential

    def _credentials(self) -> CredentialQuerySet:
        """Every credential the connection may sign in with: its partner app's when it has one."""
        if self.connection.partner_app_id is not None:
            return ProviderCredential.objects.filter(partner_app_id=self.connection.partner_app_id)
        return ProviderCredential.objects.filter(connection=self.connection)

    def token_provider(self, credential: ProviderCredential | None = None) -> TokenSource:
        """A fresh token provider (fresh MSAL application: no cached failures from earlier runs)
        whose tokens must name the connection's tenant."""
        from tenantatlas.graph.auth import TokenProvider

        credential = credential or self.current_credential()
        material = CredentialManager().open(credential, self.redactor)
        record_event(
            workspace=self.connection.workspace,
            actor=SYSTEM,  # the run's worker, on the product's behalf
            action="credential.decrypted",
            target=self.connection,
            metadata={
                "credential_id": credential.pk,
                "version": credential.version,
                "purpose": self.purpose,
                **(
                    {"partner_app_id": credential.partner_app_id}
                    if credential.partner_app_id
                    else {}
                ),
            },
        )
        tenant_id = str(self.connection.entra_tenant_id)
        tokens = TokenProvider(self.cloud, tenant_id, material, redactor=self.redactor)
        return TenantBoundTokens(tokens, tenant_id)

    def verify_tenant(self, client: GraphClient) -> dict[str, Any]:
        """``/organization`` of the tenant Graph answers for, after checking it is the connection's.

        Returns ``{}`` when the app may not read ``/organization``: the token's ``tid`` (checked
        on every acquisition) is then the only evidence, and it named the right tenant.
        """
        try:
            organizations = client.get("organization.get").get("value") or []
        except ProviderError as exc:
            if exc.reason_code != "graph.permission_denied":
                raise
            return {}
        organization: dict[str, Any] = organizations[0] if organizations else {}
        found = str(organization.get("id", "")).lower()
        if organization and found != str(self.connection.entra_tenant_id).lower():
            raise ProviderError(
                "provider.tenant_mismatch",
                MISMATCH_MESSAGE + " (/organization names another tenant)",
                details={"organization_id": found},
            )
        return organization

    def graph_client(
        self, token_provider: TokenSource | None = None, *, max_attempts: int | None = None
    ) -> GraphClient:
        from tenantatlas.graph.client import GraphClient

        return GraphClient(
            self.cloud,
            token_provider or self.token_provider(),
            redactor=self.redactor,
            recorder=self.recorder,
            max_attempts=max_attempts,
        )
