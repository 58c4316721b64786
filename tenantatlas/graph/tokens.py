"""Access tokens as the Graph client sees them: a value, an expiry and the granted roles."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class AccessToken:
    """An app-only access token. ``roles`` is None when the token carries no roles claim."""

    value: str = field(repr=False)
    expires_at: datetime
    roles: list[str] | None

    def __repr__(self) -> str:  # never print the token itself
        return f"AccessToken(expires_at={self.expires_at.isoformat()}, roles={self.roles!r})"


class TokenSource(Protocol):
    """Anything that hands out tokens: TokenProvider, or a stub in tests."""

    def get_token(self, force_refresh: bool = False) -> AccessToken: ...
