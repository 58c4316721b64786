"""Client assertions checked as Entra does: key lookup by thumbprint, signature, iss/sub, aud,
times (RS256 + ``x5t`` or PS256 + ``x5t#S256``, base64url padded or not, or standard base64)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tenantatlas.simulator import errors
from tenantatlas.simulator.certs import b64url_decode, load_certificate
from tenantatlas.simulator.scenarios import AppScenario


def _decode_segment(segment: str) -> dict[str, Any]:
    value = json.loads(b64url_decode(segment))
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def verify_assertion(assertion: str, app: AppScenario, audiences: set[str]) -> None:
    """Check a client assertion as Entra does: key lookup, signature, iss/sub, aud, times."""
    try:
        header_b64, payload_b64, signature_b64 = assertion.split(".")
        header = _decode_segment(header_b64)
        claims = _decode_segment(payload_b64)
        signature = b64url_decode(signature_b64)
    except ValueError as exc:
        raise errors.assertion_malformed() from exc
    alg = header.get("alg")
    if alg not in ("RS256", "PS256"):
        raise errors.assertion_malformed()
    public_key, thumbprint = _assertion_key(header, app)
    pad: padding.AsymmetricPadding = (
        padding.PKCS1v15()
        if alg == "RS256"
        else padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
    )
    try:
        public_key.verify(signature, f"{header_b64}.{payload_b64}".encode(), pad, hashes.SHA256())
    except InvalidSignature as exc:
        raise errors.certificate_invalid(
            app.client_id,
            thumbprint,
            "Key was found, but use of the key to verify the signature failed.",
        ) from exc
    _check_assertion_claims(claims, app, audiences)


def _assertion_key(header: dict[str, Any], app: AppScenario) -> tuple[rsa.RSAPublicKey, str]:
    """The public key of the app certificate the header's thumbprint names, and the thumbprint.

    The certificate must be one the app holds, inside its validity dates, with an RSA key.
    """
    algorithm: hashes.HashAlgorithm
    if "x5t#S256" in header:
        presented, algorithm = b64url_decode(str(header["x5t#S256"])), hashes.SHA256()
    elif "x5t" in header:
        presented, algorithm = b64url_decode(str(header["x5t"])), hashes.SHA1()  # noqa: S303
    else:
        raise errors.certificate_invalid(app.client_id, "", "The key was not found.")
    certificate = next(
        (
            cert
            for cert in (load_certificate(pem) for pem in app.certificates)
            if cert.fingerprint(algorithm) == presented
        ),
        None,
    )
    thumbprint = presented.hex().upper()
    if certificate is None:
        raise errors.certificate_invalid(app.client_id, thumbprint, "The key was not found.")
    now = dt.datetime.now(dt.UTC)
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        # A key credential is only usable between its start and end dates.
        raise errors.certificate_invalid(app.client_id, thumbprint, "The key used is expired.")
    public_key = certificate.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise errors.certificate_invalid(app.client_id, thumbprint, "The key is not an RSA key.")
    return public_key, thumbprint


def _check_assertion_claims(claims: dict[str, Any], app: AppScenario, audiences: set[str]) -> None:
    """iss and sub are the client id (case aside), aud names this endpoint, times are current."""
    if not (claims.get("iss") == claims.get("sub") == app.client_id) and not (
        str(claims.get("iss", "")).lower()
        == str(claims.get("sub", "")).lower()
        == app.client_id.lower()
    ):
        raise errors.assertion_subject_mismatch()
    audience = claims.get("aud")
    audience_values = audience if isinstance(audience, list) else [audience]
    if not any(str(value).lower() in audiences for value in audience_values):
        raise errors.assertion_audience_invalid()
    _check_assertion_times(claims)


def _check_assertion_times(claims: dict[str, Any]) -> None:
    now = dt.datetime.now(dt.UTC)
    try:
        exp = dt.datetime.fromtimestamp(int(claims["exp"]), dt.UTC)
        nbf = dt.datetime.fromtimestamp(int(claims["nbf"]), dt.UTC) if "nbf" in claims else None
    except (KeyError, TypeError, ValueError) as exc:
        raise errors.assertion_malformed() from exc
    skew = dt.timedelta(minutes=5)
    if exp + skew < now or (nbf is not None and nbf - skew > now):
        raise errors.assertion_expired(now, nbf, exp)
