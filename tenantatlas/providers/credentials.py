"""CredentialManager: the only code that can decrypt provider credentials.

Ciphertext is a MultiFernet token; the first configured key encrypts, every key decrypts.
`key_id` records which key sealed a row so key rotation progress is visible.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from tenantatlas.lib.reasons import ProviderError
from tenantatlas.lib.sanitize import Redactor
from tenantatlas.providers.models import CredentialKind, ProviderCredential

if TYPE_CHECKING:
    from tenantatlas.graph.auth import ClientCredential


def key_id_of(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:12]


class CredentialManager:
    def __init__(self, keys: Sequence[str] | None = None) -> None:
        keys = list(settings.ENCRYPTION_KEYS if keys is None else keys)
        if not keys:
            raise ImproperlyConfigured("No credential encryption keys are configured.")
        try:
            self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])
        except ValueError:
            raise ImproperlyConfigured(
                "An encryption key is not a valid Fernet key (32 url-safe base64 bytes)."
            ) from None
        self.primary_key_id = key_id_of(keys[0])

    def seal(self, secret_material: dict[str, str]) -> tuple[str, str]:
        """Encrypt secret material; returns (ciphertext, key id)."""
        token = self._fernet.encrypt(json.dumps(secret_material).encode())
        return token.decode(), self.primary_key_id

    def reseal(self, ciphertext: str) -> tuple[str, str]:
        """Re-encrypt with the primary key (key rotation). Raises ProviderError if unreadable."""
        try:
            token = self._fernet.rotate(ciphertext.encode())
        except InvalidToken:
            raise ProviderError(
                "credential.decrypt_failed",
                "The stored credential cannot be decrypted with the configured keys.",
            ) from None
        return token.decode(), self.primary_key_id

    def open(self, credential: ProviderCredential, redactor: Redactor) -> ClientCredential:
        """Decrypt a credential into the material MSAL needs, registering every secret."""
        from tenantatlas.graph.auth import ClientCredential

        try:
            material: dict[str, Any] = json.loads(
                self._fernet.decrypt(credential.ciphertext.encode())
            )
        except (InvalidToken, ValueError):
            raise ProviderError(
                "credential.decrypt_failed",
                "The stored credential cannot be decrypted with the configured keys.",
                details={"credential_id": credential.pk, "key_id": credential.key_id},
            ) from None
        for value in material.values():
            redactor.register(value)
        if credential.kind == CredentialKind.CLIENT_SECRET:
            return ClientCredential(
                client_id=str(credential.client_id), client_secret=material["client_secret"]
            )
        return ClientCredential(
            client_id=str(credential.client_id),
            private_key_pem=material["private_key_pem"],
            certificate_pem=material["certificate_pem"],
        )
