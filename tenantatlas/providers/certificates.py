"""Parse and check an uploaded app-registration certificate (PEM key + certificate)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.exceptions import ValidationError

# Entra refuses app credentials with shorter RSA keys (and so does NIST SP 800-131A since 2014).
MIN_RSA_KEY_BITS = 2048

_CERT_BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)
_KEY_BLOCK = re.compile(
    rb"-----BEGIN (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----.+?-----END (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----",
    re.DOTALL,
)


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
    """Validate a PEM certificate and its RSA private key (≥ 2048 bits); raise ValidationError
    naming the problem.

    The key may be in the certificate file (a combined PEM) or in its own file.
    """
    cert_match = _CERT_BLOCK.search(certificate_data)
    if cert_match is None:
        if _KEY_BLOCK.search(certificate_data):
            raise ValidationError(
                "The certificate file holds a private key but no certificate "
                "(expected a '-----BEGIN CERTIFICATE-----' block).",
                code="no_certificate",
            )
        raise ValidationError(
            "The certificate file is not a PEM certificate "
            "(expected a '-----BEGIN CERTIFICATE-----' block).",
            code="no_certificate",
        )
    try:
        certificate = x509.load_pem_x509_certificate(cert_match.group(0))
    except ValueError:
        raise ValidationError(
            "The certificate block could not be read as an X.509 certificate.",
            code="bad_certificate",
        ) from None

    key_source = key_data if key_data else certificate_data
    key_match = _KEY_BLOCK.search(key_source)
    if key_match is None:
        if key_data and _CERT_BLOCK.search(key_data):
            raise ValidationError(
                "The private key file holds a certificate, not a private key.", code="no_key"
            )
        raise ValidationError(
            "No private key found: upload the PEM private key "
            "('-----BEGIN PRIVATE KEY-----') with the certificate.",
            code="no_key",
        )
    try:
        private_key = serialization.load_pem_private_key(
            key_match.group(0), password=passphrase.encode() if passphrase else None
        )
    except TypeError:
        raise ValidationError(
            "The private key is encrypted: enter its passphrase."
            if not passphrase
            else "The private key is not encrypted: leave the passphrase empty.",
            code="key_passphrase",
        ) from None
    except ValueError:
        raise ValidationError(
            "The private key could not be read (wrong passphrase or not a PEM private key).",
            code="bad_key",
        ) from None

    if not isinstance(private_key, rsa.RSAPrivateKey):
        raise ValidationError(
            "Entra app certificates for client credentials must use an RSA key.", code="not_rsa"
        )
    cert_public = certificate.public_key()
    if not isinstance(cert_public, rsa.RSAPublicKey) or (
        cert_public.public_numbers() != private_key.public_key().public_numbers()
    ):
        raise ValidationError(
            "The private key does not belong to this certificate.", code="key_mismatch"
        )
    if private_key.key_size < MIN_RSA_KEY_BITS:
        raise ValidationError(
            f"The certificate's RSA key has {private_key.key_size} bits; Entra app credentials "
            f"need at least {MIN_RSA_KEY_BITS}. Create a new certificate with a 2048-bit or "
            "longer key.",
            code="key_too_short",
        )

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
