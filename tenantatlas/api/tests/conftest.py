"""API test fixtures: tokens for the cast and a client that sends them."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tenantatlas.accounts.services import create_api_token
from tenantatlas.workspaces.capabilities import capabilities_of
from tenantatlas.workspaces.models import Membership


def token_for(user: Any, workspace: Any = None, capabilities: Any = None, **kwargs: Any) -> str:
    """A plaintext token of `user` holding their role's capabilities (or the ones given)."""
    member = Membership.objects.select_related("workspace").filter(user=user)
    if workspace is not None:
        member = member.filter(workspace=workspace)
    membership = member.get()
    caps = capabilities if capabilities is not None else capabilities_of(membership.role)
    _, plaintext = create_api_token(
        actor=user, member=membership, name=f"{user.username} test", capabilities=caps, **kwargs
    )
    return plaintext


class ApiClient(Client):
    """A Django test client that sends a bearer token and JSON bodies."""

    def __init__(self, token: str | None = None, **kwargs: Any) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        super().__init__(headers=headers, **kwargs)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        url = path if path.startswith("/api/") else f"/api/v1{path}"
        if body is None:
            return self.generic(method, url)
        return self.generic(
            method, url, data=__import__("json").dumps(body), content_type="application/json"
        )


@pytest.fixture
def api_for() -> Any:
    def make(user: Any, **kwargs: Any) -> ApiClient:
        return ApiClient(token_for(user, **kwargs))

    return make
