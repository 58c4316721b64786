"""A disabled connection is never the default: hand a disabled default to an enabled connection
of the same workspace (the first by name), or leave the workspace without one."""

from __future__ import annotations

from typing import Any

from django.db import migrations


def hand_over_disabled_defaults(apps: Any, schema_editor: Any) -> None:
    connection_model = apps.get_model("providers", "ProviderConnection")
    live = connection_model.objects.filter(deleted_at__isnull=True)
    for stale in live.filter(is_default=True, status="disabled"):
        connection_model.objects.filter(pk=stale.pk).update(is_default=False)
        successor = (
            live.filter(workspace_id=stale.workspace_id, status="enabled")
            .order_by("display_name", "pk")
            .first()
        )
        if successor is not None:
            connection_model.objects.filter(pk=successor.pk).update(is_default=True)


class Migration(migrations.Migration):
    dependencies = [("providers", "0001_initial")]

    operations = [migrations.RunPython(hand_over_disabled_defaults, migrations.RunPython.noop)]
