"""The members app: creating workspaces and changing who is in them (the models stay in workspaces)."""

from __future__ import annotations

from django.apps import AppConfig


class MembersConfig(AppConfig):
    name = "tenantatlas.members"
    label = "members"
    verbose_name = "Members and invitations"
