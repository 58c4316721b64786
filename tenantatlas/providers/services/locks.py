"""The lock that serialises connection changes of one workspace."""

from __future__ import annotations

from tenantatlas.workspaces.models import Workspace


def lock_workspace(workspace: Workspace) -> None:
    """Row lock on the workspace (SQLite's IMMEDIATE transaction locks the whole database)."""
    Workspace.objects.select_for_update().filter(pk=workspace.pk).first()
