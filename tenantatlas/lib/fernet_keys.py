"""Is a list of credential encryption keys usable? Said without ever showing a key.

Used by the settings (so every process refuses a malformed key at start) and by the
CredentialManager; it imports nothing of Django.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet


def fernet_key_problem(keys: Sequence[str]) -> str:
    """'' when every key is a Fernet key; otherwise which one is not (by position, never value)."""
    if not keys:
        return "no encryption key is configured."
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key.encode())
        except ValueError:  # also binascii.Error: not url-safe base64, or not 32 bytes
            return (
                f"key {position} of {len(keys)} is not a valid Fernet key (32 url-safe "
                "base64-encoded bytes, as Fernet.generate_key() makes; the key is not shown)."
            )
    return ""
