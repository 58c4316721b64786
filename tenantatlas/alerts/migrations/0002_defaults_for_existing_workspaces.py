from typing import Any

from django.db import migrations


def forwards(apps: Any, schema_editor: Any) -> None:
    from tenantatlas.alerts.defaults import create_defaults

    channel, rule = apps.get_model("alerts", "AlertChannel"), apps.get_model("alerts", "AlertRule")
    for workspace_id in apps.get_model("workspaces", "Workspace").objects.values_list("pk", flat=True):
        create_defaults(workspace_id, channel, rule)


class Migration(migrations.Migration):
    dependencies = [("alerts", "0001_initial")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
