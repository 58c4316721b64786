"""The token itself: who it acts as, in which workspace, with which capabilities."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router

from tenantatlas.api.auth import principal
from tenantatlas.api.errors import COMMON_ERRORS
from tenantatlas.api.schemas import MeOut

router = Router(tags=["token"])


@router.get("/me", response={200: MeOut, **COMMON_ERRORS}, operation_id="get_me")
def get_me(request: HttpRequest) -> Any:
    me = principal(request)
    return {
        "user": me.user.username,
        "workspace": {"slug": me.workspace.slug, "name": me.workspace.name},
        "role": me.member.role,
        "token_name": me.token.name,
        "token_prefix": me.token.display_prefix,
        "capabilities": sorted(me.member.granted_capabilities),  # type: ignore[attr-defined]
        "expires_at": me.token.expires_at,
    }
