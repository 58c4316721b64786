"""Authorization codes: short-lived, single use, bound to what the authorize request said.

A code is an opaque random string; what it stands for (client, reply URL, PKCE challenge,
nonce, user, scopes) stays here, behind a lock, until it is redeemed or the store is reset.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from tenantatlas.simulator import errors
from tenantatlas.simulator.scenarios import UserScenario

#: Seconds a code can be redeemed in. Microsoft: "Authorization codes are short lived.
#: Typically, they expire after about 10 minutes" (docs/microsoft-facts.md).
CODE_LIFETIME = 600.0


@dataclass(frozen=True)
class AuthorizationCode:
    """What one authorization code was issued for."""

    client_id: str
    redirect_uri: str
    tenant_id: str
    user: UserScenario
    scopes: tuple[str, ...]
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str
    issued_at: float
    redeemed: bool = False


def verifier_matches(verifier: str, challenge: str, method: str) -> bool:
    """RFC 7636: S256 is the base64url SHA-256 of the verifier, plain the verifier itself."""
    if method == "S256":
        digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
        expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    else:
        expected = verifier
    return hmac.compare_digest(expected, challenge)


class AuthorizationCodes:
    """Issues codes and redeems each at most once within ``lifetime`` seconds."""

    def __init__(self, lifetime: float = CODE_LIFETIME) -> None:
        self.lifetime = lifetime
        self._lock = threading.Lock()
        self._codes: dict[str, AuthorizationCode] = {}

    def issue(self, grant: AuthorizationCode) -> str:
        code = "1.AAAA" + secrets.token_urlsafe(96)
        with self._lock:
            self._codes[code] = dataclasses.replace(grant, issued_at=time.monotonic())
        return code

    def redeem(
        self, code: str, *, client_id: str, redirect_uri: str, verifier: str | None
    ) -> AuthorizationCode:
        """The grant behind ``code``, now used up; else the error Entra gives, the code kept."""
        with self._lock:
            grant = self._codes.get(code)
            if grant is None or grant.client_id.lower() != client_id.lower():
                raise errors.code_invalid()
            if grant.redeemed:
                raise errors.code_redeemed()
            if time.monotonic() - grant.issued_at > self.lifetime:
                raise errors.code_expired()
            if redirect_uri != grant.redirect_uri:
                raise errors.reply_address_mismatch(redirect_uri, grant.redirect_uri)
            if grant.code_challenge is not None and not verifier_matches(
                verifier or "", grant.code_challenge, grant.code_challenge_method
            ):
                raise errors.code_verifier_mismatch()
            self._codes[code] = dataclasses.replace(grant, redeemed=True)
            return grant

    def expire_all(self) -> None:
        """Make every outstanding code too old to redeem (tests of AADSTS70008)."""
        with self._lock:
            for code, grant in self._codes.items():
                self._codes[code] = dataclasses.replace(grant, issued_at=-1e12)

    def reset(self) -> None:
        with self._lock:
            self._codes.clear()
