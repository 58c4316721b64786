"""Parse and check an uploaded app-registration certificate (PEM key + certificate)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

# Entra refuses app credentials with shorter RSA keys (and so does NIST SP 800-131A since 2014).
MIN_RSA_KEY_BITS = 2048

_CERT_BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)
_KEY_BLOCK = re.compile(
    rb"-----BEGIN (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----.+?-----END (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----",
    re.DOTALL,
)


class CertificateProblem(ValueError):
    """Why a certificate bundle cannot be used; `part` says whether the certificate or the key."""

    def __init__(
        self, message: str, *, code: str, part: Literal["certificate", "private_key"]
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.part = part


@dataclass(frozen=True)
class ParsedCertificate:
    certificate_pem: str
    private_key_pem: str
    thumbprint_sha1: str
    thumbprint_sha256: str
    subject: str
    not_before: dt.datetime
    not_after: dt.datetime

    @property
    def is_expired(self) -> bool:
        return self.not_after <= dt.datetime.now(dt.UTC)


def parse_certificate_bundle(
    certificate_data: bytes, key_data: bytes | None = None, passphrase: str = ""
) -> ParsedCertificate:
    """Validate a PEM certificate and its RSA private key (≥ 2048 bits); raise
    `CertificateProblem` naming the problem.

    The key may be in the certificate file (a combined PEM) or in its own file.
    """
    certificate = _read_certificate(certificate_data)
    private_key = _read_private_key(
        key_data or certificate_data, passphrase, separate=bool(key_data)
    )
    return _parsed(certificate, _matching_rsa_key(certificate, private_key))


def _read_certificate(data: bytes) -> x509.Certificate:
    match = _CERT_BLOCK.search(data)
    if match is None:
        what = (
            "holds a private key but no certificate"
            if _KEY_BLOCK.search(data)
            else "is not a PEM certificate"
        )
        raise CertificateProblem(
            f"The certificate file {what} (expected a PEM block that starts with a BEGIN CERTIFICATE line).",
            code="no_certificate",
            part="certificate",
        )
    try:
        return x509.load_pem_x509_certificate(match.group(0))
    except ValueError:
        raise CertificateProblem(
            "The certificate block could not be read as an X.509 certificate.",
            code="bad_certificate",
            part="certificate",
        ) from None


def _read_private_key(data: bytes, passphrase: str, *, separate: bool) -> PrivateKeyTypes:
    """The private key block of `data` (its own file when `separate`, else the certificate's)."""
    match = _KEY_BLOCK.search(data)
    if match is None:
        if separate and _CERT_BLOCK.search(data):
            raise _key_problem(
                "The private key file holds a certificate, not a private key.", "no_key"
            )
        raise _key_problem(
            "No private key found: upload the PEM private key "
            "(a PEM block that starts with a BEGIN PRIVATE KEY line) with the certificate.",
            "no_key",
        )
    try:
        return serialization.load_pem_private_key(
            match.group(0), password=passphrase.encode() if passphrase else None
        )
    except TypeError:
        raise _key_problem(
            "The private key is not encrypted: leave the passphrase empty."
            if passphrase
            else "The private key is encrypted: enter its passphrase.",
            "key_passphrase",
        ) from None
    except ValueError:
        raise _key_problem(
            "The private key could not be read (wrong passphrase or not a PEM private key).",
            "bad_key",
        ) from None


def _matching_rsa_key(
    certificate: x509.Certificate, private_key: PrivateKeyTypes
) -> rsa.RSAPrivateKey:
    """`private_key` if it is the certificate's RSA key and long enough for Entra."""
    if not isinstance(private_key, rsa.RSAPrivateKey):
        raise _certificate_problem(
            "Entra app certificates for client credentials must use an RSA key.", "not_rsa"
        )
    public = certificate.public_key()
    if not isinstance(public, rsa.RSAPublicKey) or (
        public.public_numbers() != private_key.public_key().public_numbers()
    ):
        raise _certificate_problem(
            "The private key does not belong to this certificate.", "key_mismatch"
        )
    if private_key.key_size < MIN_RSA_KEY_BITS:
        raise _certificate_problem(
            f"The certificate's RSA key has {private_key.key_size} bits; Entra app credentials "
            f"need at least {MIN_RSA_KEY_BITS}. Create a new certificate with a 2048-bit or "
            "longer key.",
            "key_too_short",
        )
    return private_key


def _parsed(certificate: x509.Certificate, private_key: rsa.RSAPrivateKey) -> ParsedCertificate:
    key_pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return ParsedCertificate(
        certificate_pem=certificate.public_bytes(serialization.Encoding.PEM).decode(),
        private_key_pem=key_pem,
        thumbprint_sha1=certificate.fingerprint(hashes.SHA1()).hex().upper(),  # noqa: S303
        thumbprint_sha256=certificate.fingerprint(hashes.SHA256()).hex().upper(),
        subject=certificate.subject.rfc4514_string()[:300],
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
    )


def _key_problem(message: str, code: str) -> CertificateProblem:
    return CertificateProblem(message, code=code, part="private_key")


def _certificate_problem(message: str, code: str) -> CertificateProblem:
    return CertificateProblem(message, code=code, part="certificate")
