"""The simulator's own certificate authority, server certificate and token signing key.

Generated once into the state directory and reused on later starts, so a client that
trusts ``ca.pem`` keeps trusting the simulator across restarts. Private keys are written
with mode 0600 before any byte of key material lands on disk.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tenantatlas.simulator.certs import build_certificate, private_key_pem

CA_FILE = "ca.pem"
CA_KEY_FILE = "ca-key.pem"
SERVER_CERT_FILE = "server.pem"
SERVER_KEY_FILE = "server-key.pem"
SIGNING_CERT_FILE = "signing.pem"
SIGNING_KEY_FILE = "signing-key.pem"


@dataclass(frozen=True)
class SimulatorKeys:
    """Paths of the files the server needs plus the loaded token signing key."""

    ca_bundle: Path
    server_cert: Path
    server_key: Path
    signing_key: rsa.RSAPrivateKey
    signing_cert: x509.Certificate


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    path.chmod(0o600)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "TenantAtlas Simulator"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _create_ca(state_dir: Path) -> None:
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_cert = _ca_certificate(ca_key, now)
    server_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    server_cert = _server_certificate(server_key, ca_key, ca_cert.subject, now)
    _write_private(state_dir / CA_KEY_FILE, private_key_pem(ca_key))
    _write_private(state_dir / SERVER_KEY_FILE, private_key_pem(server_key))
    (state_dir / SERVER_CERT_FILE).write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    # Written last: its presence marks a complete set.
    (state_dir / CA_FILE).write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))


def _ca_certificate(ca_key: rsa.RSAPrivateKey, now: dt.datetime) -> x509.Certificate:
    """A self-signed CA that may sign server certificates only (path length 0), for ten years."""
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )
    return build_certificate(
        _name("TenantAtlas Simulator CA"),
        ca_key,
        not_before=now,
        days_valid=3650,
        extensions=[
            (x509.BasicConstraints(ca=True, path_length=0), True),
            (usage, True),
            (x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False),
        ],
    )


def _server_certificate(
    server_key: rsa.RSAPrivateKey, ca_key: rsa.RSAPrivateKey, ca_name: x509.Name, now: dt.datetime
) -> x509.Certificate:
    """The TLS certificate for localhost, 127.0.0.1 and ::1, signed by the CA (825 days)."""
    names = x509.SubjectAlternativeName(
        [
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")),
            x509.IPAddress(ipaddress.IPv6Address("::1")),
        ]
    )
    return build_certificate(
        _name("localhost"),
        server_key,
        not_before=now,
        days_valid=825,
        issuer=ca_name,
        issuer_key=ca_key,
        extensions=[
            (names, False),
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
            (x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False),
        ],
    )


def _create_signing_key(state_dir: Path) -> None:
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = _name("TenantAtlas Simulator token signing")
    cert = build_certificate(name, key, not_before=now, days_valid=3650)
    _write_private(state_dir / SIGNING_KEY_FILE, private_key_pem(key))
    (state_dir / SIGNING_CERT_FILE).write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def ensure_keys(state_dir: Path) -> SimulatorKeys:
    """Load the CA, server certificate and signing key, creating any that are missing."""
    state_dir.mkdir(parents=True, exist_ok=True)
    required = (CA_FILE, CA_KEY_FILE, SERVER_CERT_FILE, SERVER_KEY_FILE)
    if not all((state_dir / name).exists() for name in required):
        _create_ca(state_dir)
    if not all((state_dir / n).exists() for n in (SIGNING_KEY_FILE, SIGNING_CERT_FILE)):
        _create_signing_key(state_dir)
    signing_key = serialization.load_pem_private_key(
        (state_dir / SIGNING_KEY_FILE).read_bytes(), password=None
    )
    if not isinstance(signing_key, rsa.RSAPrivateKey):
        raise TypeError(f"{state_dir / SIGNING_KEY_FILE} does not hold an RSA key")
    signing_cert = x509.load_pem_x509_certificate((state_dir / SIGNING_CERT_FILE).read_bytes())
    return SimulatorKeys(
        ca_bundle=state_dir / CA_FILE,
        server_cert=state_dir / SERVER_CERT_FILE,
        server_key=state_dir / SERVER_KEY_FILE,
        signing_key=signing_key,
        signing_cert=signing_cert,
    )
