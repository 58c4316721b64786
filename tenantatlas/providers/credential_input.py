"""The rules a new credential passes before it is sealed, for the forms and the API alike.

The functions take what the admin typed or uploaded and return the value the connection services
store, or raise `CredentialInputError` naming the part that is wrong. Each surface words its own
field names (a form field, a JSON path); the rules and their messages live here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from tenantatlas.lib import dates
from tenantatlas.providers.certificates import (
    CertificateProblem,
    ParsedCertificate,
    parse_certificate_bundle,
)

# A certificate or key in PEM is a few kilobytes; a larger upload is not one.
MAX_PEM_SIZE = 64 * 1024

InputPart = Literal["client_secret", "expires_at", "certificate", "private_key", "accept_expired"]


@dataclass(frozen=True)
class SecretInput:
    """A client secret as typed by the admin, with the expiry they entered."""

    client_id: str
    client_secret: str
    expires_at: dt.datetime | None = None


@dataclass(frozen=True)
class CertificateInput:
    """A checked certificate with its RSA private key."""

    client_id: str
    certificate: ParsedCertificate


CredentialInput = SecretInput | CertificateInput


class CredentialInputError(ValueError):
    """A credential the product does not accept; `message` is safe to show."""

    def __init__(self, part: InputPart, code: str, message: str) -> None:
        super().__init__(message)
        self.part = part
        self.code = code
        self.message = message


class CertificateExpired(CredentialInputError):
    """An expired certificate, accepted only when the admin says so (each surface says how)."""

    def __init__(self, not_after: dt.datetime) -> None:
        super().__init__(
            "accept_expired",
            "certificate_expired",
            f"This certificate expired on {not_after:%Y-%m-%d}.",
        )
        self.not_after = not_after


def secret_input(
    *, client_id: str, client_secret: str, expires_at: dt.datetime | None = None
) -> SecretInput:
    """A client secret with an expiry after now and no later than `dates.LATEST` (or none)."""
    if not client_secret:
        raise CredentialInputError("client_secret", "required", "Enter the client secret value.")
    if expires_at is not None:
        problem = dates.expiry_problem(expires_at)
        if problem:
            raise CredentialInputError("expires_at", "invalid", problem)
        expires_at = dates.in_range(expires_at)
    return SecretInput(client_id=client_id, client_secret=client_secret, expires_at=expires_at)


def certificate_input(
    *,
    client_id: str,
    certificate_pem: bytes,
    private_key_pem: bytes | None = None,
    passphrase: str = "",
    accept_expired: bool = False,
) -> CertificateInput:
    """A PEM certificate and its RSA key (in the same PEM or its own); expired only if accepted."""
    try:
        parsed = parse_certificate_bundle(certificate_pem, private_key_pem, passphrase)
    except CertificateProblem as problem:
        raise CredentialInputError(problem.part, problem.code, problem.message) from None
    if parsed.is_expired and not accept_expired:
        raise CertificateExpired(parsed.not_after)
    return CertificateInput(client_id=client_id, certificate=parsed)
