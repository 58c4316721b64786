"""The secrets settings.py needs: its own in embedded mode, the credential encryption keys."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from tenantatlas.lib.fernet_keys import fernet_key_problem
from tenantatlas.lib.private_files import create_private_file, make_private_dir


def local_secret_file(
    data_dir: Path, production: bool, name: str, make: Callable[[], str], variable: str = ""
) -> str:
    """Read or create a secret file in the data directory (embedded mode only)."""
    if production:
        variable = variable or name
        raise ImproperlyConfigured(
            f"{variable} is not configured. In production set it (or {variable}_FILE) explicitly; "
            "TenantAtlas never generates production secrets silently."
        )
    make_private_dir(data_dir)
    path = data_dir / name.lower()
    if not path.exists():
        create_private_file(path, make())  # loses to a concurrent first start: reads its value
    return path.read_text().strip()


def _new_fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def encryption_keys(
    configured: list[str], keys_file_variable: str | None, data_dir: Path, production: bool
) -> tuple[list[str], str | None]:
    """The Fernet keys and, in embedded mode, the file they are kept in (else None).

    ``configured``: TENANTATLAS_ENCRYPTION_KEYS (or its _FILE, named by ``keys_file_variable``);
    without it embedded mode keeps them in DATA_DIR/encryption_keys (one per line, 0600),
    created on first start. A malformed key stops every process here, naming where it came from
    and its position.
    """
    keys, keys_file = configured, None
    source = "TENANTATLAS_ENCRYPTION_KEYS"
    if keys_file_variable:
        source += f"_FILE ({keys_file_variable})"
    if not keys:
        keys = local_secret_file(
            data_dir,
            production,
            "ENCRYPTION_KEYS",
            _new_fernet_key,
            variable="TENANTATLAS_ENCRYPTION_KEYS",
        ).split()
        keys_file = source = str(data_dir / "encryption_keys")
    malformed = fernet_key_problem(keys)
    if malformed:
        raise ImproperlyConfigured(f"{source}: {malformed}")
    return keys, keys_file
