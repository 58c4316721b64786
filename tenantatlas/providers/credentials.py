"""CredentialManager: the only code that can decrypt provider credentials.

Ciphertext is a MultiFernet token; the first configured key encrypts, every key decrypts.
`key_id` records which key sealed a row so key rotation progress is visible.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

from tenantatlas.lib.fernet_keys import fernet_key_problem
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
        problem = fernet_key_problem(keys)
        if problem:
            raise ImproperlyConfigured(f"Credential encryption keys: {problem}")
        self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])
        self.key_ids = [key_id_of(key) for key in keys]
        self.primary_key_id = self.key_ids[0]

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

    def can_open(self, credential: ProviderCredential) -> bool:
        """Whether the configured keys decrypt ``credential`` (the plaintext is dropped at once)."""
        try:
            self._fernet.decrypt(credential.ciphertext.encode())
        except (InvalidToken, ValueError):
            return False
        return True

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


@dataclass
class KeyCoverage:
    """How the configured keys fare on the stored credentials, one sampled row per sealing key."""

    stored: int = 0
    sampled: int = 0
    readable: int = 0
    unreadable_key_ids: list[str] = field(default_factory=list)
    unreadable: int = 0  # stored credentials sealed with the unreadable key ids


def key_coverage(manager: CredentialManager | None = None, *, max_keys: int = 10) -> KeyCoverage:
    """Try one credential per key id that sealed stored credentials: a few rows, never a scan.

    A row whose key id is one of ours is still decrypted, so a corrupted or mislabelled row
    counts as unreadable too.
    """
    manager = manager or CredentialManager()
    key_ids = list(
        ProviderCredential.objects.order_by("key_id")
        .values_list("key_id", flat=True)
        .distinct()[:max_keys]
    )
    coverage = KeyCoverage()
    for key_id in key_ids:
        sample = ProviderCredential.objects.filter(key_id=key_id).order_by("-pk").first()
        if sample is None:
            continue
        coverage.sampled += 1
        if manager.can_open(sample):
            coverage.readable += 1
        else:
            coverage.unreadable_key_ids.append(key_id)
    if coverage.sampled:
        counts = dict(
            ProviderCredential.objects.filter(key_id__in=key_ids)
            .values_list("key_id")
            .annotate(rows=models.Count("pk"))
        )
        coverage.stored = sum(counts.values())
        coverage.unreadable = sum(counts[key_id] for key_id in coverage.unreadable_key_ids)
    return coverage
