"""Certificate helpers shared by the simulator, the tests and the demo.

Entra identifies an app's certificate by its SHA-1 (``x5t``) or SHA-256 (``x5t#S256``)
thumbprint; these helpers compute both the way clients send them, so the token endpoint
can look a presented assertion up without caring which form (or padding) was used.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Sequence
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

type PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def build_certificate(
    subject: x509.Name,
    key: PrivateKey,
    *,
    not_before: dt.datetime,
    days_valid: int,
    issuer: x509.Name | None = None,
    issuer_key: PrivateKey | None = None,
    extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
) -> x509.Certificate:
    """A certificate for ``key``'s public key, SHA-256-signed by ``issuer_key`` (else self-signed).

    ``extensions`` are ``(extension, critical)`` pairs, added in order. Every certificate the
    simulator, the tests and the benchmarks make comes from here.
    """
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer or subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + dt.timedelta(days=days_valid))
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(issuer_key or key, hashes.SHA256())


def private_key_pem(key: PrivateKey) -> bytes:
    """Unencrypted PKCS#8 PEM of ``key``."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def make_test_certificate(
    common_name: str,
    *,
    days_valid: int = 365,
    not_before: dt.datetime | None = None,
    key_size: int = 2048,
    key_type: Literal["rsa", "ec"] = "rsa",
) -> tuple[str, str]:
    """Create a self-signed certificate as an app registration would hold.

    Returns ``(private_key_pem, certificate_pem)``. ``not_before`` defaults to one hour
    ago so a freshly made certificate is valid despite small clock differences. ``key_size``
    below 2048, or an EC key (``key_type="ec"``, P-256), makes a certificate Entra (and
    TenantAtlas) refuses.
    """
    key: PrivateKey = (
        ec.generate_private_key(ec.SECP256R1())
        if key_type == "ec"
        else rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    )
    start = not_before or (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = build_certificate(name, key, not_before=start, days_valid=days_valid)
    return private_key_pem(key).decode(), cert.public_bytes(serialization.Encoding.PEM).decode()


def load_certificate(pem: str | bytes) -> x509.Certificate:
    """Parse one PEM certificate."""
    data = pem.encode() if isinstance(pem, str) else pem
    return x509.load_pem_x509_certificate(data)


def sha1_thumbprint_hex(cert: x509.Certificate) -> str:
    """The upper-case SHA-1 hex thumbprint the Entra portal shows (MSAL's ``thumbprint``)."""
    return cert.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 - the x5t format is SHA-1


def b64url(data: bytes) -> str:
    """Unpadded base64url, as JOSE prescribes."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    """Decode base64url or standard base64, padded or not.

    Clients disagree on padding (MSAL keeps it on ``x5t``) and some send standard base64
    for the whole header; Entra accepts all of them, so the simulator does too.
    """
    cleaned = text.strip().replace("+", "-").replace("/", "_").rstrip("=")
    return base64.urlsafe_b64decode(cleaned + "=" * (-len(cleaned) % 4))


def x5t(cert: x509.Certificate) -> str:
    """``x5t`` header value: base64url SHA-1 of the DER certificate (unpadded)."""
    return b64url(cert.fingerprint(hashes.SHA1()))  # noqa: S303


def x5t_s256(cert: x509.Certificate) -> str:
    """``x5t#S256`` header value: base64url SHA-256 of the DER certificate (unpadded)."""
    return b64url(cert.fingerprint(hashes.SHA256()))
