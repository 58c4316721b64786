"""Sealing a channel's secret (a webhook's signing secret, a Teams workflow URL).

Sealed like provider credentials: a MultiFernet token under the configured encryption keys (the
first encrypts, every one decrypts); ``rotate_encryption_keys`` re-seals them with the rest.
Only this module and the delivery path open them; pages show whether one is set, never it.
"""

from __future__ import annotations

import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from tenantatlas.lib.fernet_keys import fernet_key_problem


class SecretUnreadable(Exception):
    """The stored secret cannot be decrypted with the configured keys."""


def _fernet() -> MultiFernet:
    keys = list(settings.ENCRYPTION_KEYS)
    problem = fernet_key_problem(keys)
    if problem:
        raise ImproperlyConfigured(f"Encryption keys: {problem}")
    return MultiFernet([Fernet(key.encode()) for key in keys])


def seal(secret: str) -> str:
    return _fernet().encrypt(json.dumps({"secret": secret}).encode()).decode()


def open_secret(ciphertext: str) -> str:
    if not ciphertext:
        return ""
    try:
        return str(json.loads(_fernet().decrypt(ciphertext.encode()))["secret"])
    except (InvalidToken, ValueError, KeyError, TypeError):
        raise SecretUnreadable(
            "The channel's secret cannot be decrypted with the configured keys; enter it again."
        ) from None


def reseal(ciphertext: str) -> str:
    """Re-encrypt with the primary key (key rotation)."""
    try:
        return _fernet().rotate(ciphertext.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("The channel's secret cannot be decrypted.") from None


def reseal_channel_secrets() -> dict[str, int]:
    """Re-encrypt every channel's secret with the primary key (``rotate_encryption_keys``);
    one that the configured keys cannot open is counted and left as it is."""
    from django.db import transaction

    from tenantatlas.alerts.models import AlertChannel

    counts = {"resealed": 0, "unreadable": 0}
    sealed = AlertChannel.objects.exclude(secret_ciphertext="").order_by("pk")
    for pk in sealed.values_list("pk", flat=True):
        with transaction.atomic():
            row = AlertChannel.objects.select_for_update().filter(pk=pk).first()
            if row is None or not row.secret_ciphertext:
                continue
            try:
                ciphertext = reseal(row.secret_ciphertext)
            except SecretUnreadable:
                counts["unreadable"] += 1
                continue
            AlertChannel.objects.filter(pk=pk).update(secret_ciphertext=ciphertext)
            counts["resealed"] += 1
    return counts
