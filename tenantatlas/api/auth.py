"""Bearer API tokens: one token acts as one person in one workspace, within its capabilities."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from django.http import HttpRequest
from ninja.security import HttpBearer

from tenantatlas.accounts.models import ApiToken
from tenantatlas.accounts.services import authenticate_token
from tenantatlas.lib import request_context
from tenantatlas.workspaces.access import require
from tenantatlas.workspaces.models import Membership, Workspace


@dataclass(frozen=True)
class Principal:
    """The token of the request and its owner's membership (capabilities narrowed to the token)."""

    token: ApiToken
    member: Membership

    @property
    def workspace(self) -> Workspace:
        return self.member.workspace

    @property
    def user(self) -> Any:
        return self.member.user


class ApiTokenAuth(HttpBearer):
    """``Authorization: Bearer ta_<prefix>_<secret>``."""

    def __call__(self, request: HttpRequest) -> Principal | None:
        # Not HttpBearer.__call__: it logs the header (the token) on a scheme mismatch in DEBUG.
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        return self.authenticate(request, value.strip())

    def authenticate(self, request: HttpRequest, token: str) -> Principal | None:
        found = authenticate_token(token)
        if found is None:
            return None
        api_token, member = found
        # From here on every audit row of this request names the token.
        request_context.amend(via="api", api_token_id=api_token.pk)
        return Principal(token=api_token, member=member)


def principal(request: HttpRequest, capability: str | None = None) -> Principal:
    """The authenticated principal; with a capability, 403 unless the token holds it."""
    found = cast(Principal, request.auth)  # type: ignore[attr-defined]
    if capability is not None:
        require(found.member, capability)
    return found
