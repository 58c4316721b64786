"""System check: do the configured encryption keys open the credentials already stored?

A well-formed key that is simply the wrong one (a restore with another key set, a key dropped
before ``rotate_encryption_keys`` ran) starts fine and then fails every run with
``credential.decrypt_failed``; ``tenantatlas check`` says so before that. Malformed keys never
get this far: the settings refuse them at start.
"""

from __future__ import annotations

from typing import Any

from django.core import checks

KEYS = "TENANTATLAS_ENCRYPTION_KEYS"


def check_encryption_keys(**kwargs: Any) -> list[checks.CheckMessage]:
    """providers.E001 when the keys open none of the sampled credentials, W001 when some not."""
    from tenantatlas.providers.gateway import encryption_key_coverage

    try:
        coverage = encryption_key_coverage()
    except Exception:  # no database yet, not migrated, unreachable: nothing to compare against
        return []
    missing = ", ".join(coverage.unreadable_key_ids)
    if coverage.sampled and not coverage.readable:
        return [
            checks.Error(
                f"The configured encryption keys ({KEYS}) decrypt none of the "
                f"{coverage.stored} stored credentials: every connection check and sync would "
                "fail with credential.decrypt_failed.",
                hint=f"Configure the key(s) that sealed them (key id {missing}; a key's id is "
                "the first 12 hex digits of its SHA-256), then restart.",
                id="providers.E001",
            )
        ]
    if coverage.unreadable:
        return [
            checks.Warning(
                f"{coverage.unreadable} stored credential(s) were sealed with a key that is not "
                f"in {KEYS} (key id {missing}) and cannot be decrypted.",
                hint="Add that key back (after the primary one) and run "
                "`tenantatlas rotate-encryption-keys`, or give those connections new credentials.",
                id="providers.W001",
            )
        ]
    return []
