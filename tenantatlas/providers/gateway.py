"""ProviderGateway: the only place that turns a connection into an authenticated Graph client.

It alone calls the CredentialManager, and it only runs inside background jobs. Every decrypt is
audited (`credential.decrypted`) and every secret it handles is registered with the run's redactor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantatlas.audit.services import record_event
from tenantatlas.graph.clouds import get_cloud
from tenantatlas.graph.recorder import RequestRecorder
from tenantatlas.lib.reasons import ProviderError
from tenantatlas.lib.sanitize import Redactor
from tenantatlas.providers.credentials import CredentialManager
from tenantatlas.providers.models import ProviderConnection, ProviderCredential

if TYPE_CHECKING:
    from tenantatlas.graph.auth import TokenProvider
    from tenantatlas.graph.client import GraphClient


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
        credential = self.connection.credentials.filter(retired_at__isnull=True).first()
        if credential is None:
            raise ProviderError("credential.missing", "The connection has no current credential.")
        return credential

    def token_provider(self, credential: ProviderCredential | None = None) -> TokenProvider:
        """A fresh token provider (fresh MSAL application: no cached failures from earlier runs)."""
        from tenantatlas.graph.auth import TokenProvider

        credential = credential or self.current_credential()
        material = CredentialManager().open(credential, self.redactor)
        record_event(
            workspace=self.connection.workspace,
            actor=None,
            action="credential.decrypted",
            target=self.connection,
            metadata={
                "credential_id": credential.pk,
                "version": credential.version,
                "purpose": self.purpose,
            },
        )
        return TokenProvider(
            self.cloud, str(self.connection.entra_tenant_id), material, redactor=self.redactor
        )

    def graph_client(
        self, token_provider: TokenProvider | None = None, *, max_attempts: int | None = None
    ) -> GraphClient:
        from tenantatlas.graph.client import GraphClient

        return GraphClient(
            self.cloud,
            token_provider or self.token_provider(),
            redactor=self.redactor,
            recorder=self.recorder,
            max_attempts=max_attempts,
        )
