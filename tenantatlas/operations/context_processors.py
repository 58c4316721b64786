"""Template context of the run framework: the operations a page may offer to start."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from tenantatlas.operations.registry import OPERATION_ACTIONS


def operation_menus(request: HttpRequest) -> dict[str, Any]:
    """The start menus' operations, for signed-in users (the same pages the navigation serves)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"operation_choices": OPERATION_ACTIONS}
