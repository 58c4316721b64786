from django.apps import AppConfig
from django.db.models.signals import post_save


class AlertsConfig(AppConfig):
    name = "tenantatlas.alerts"
    label = "alerts"
    verbose_name = "Alerts"

    def ready(self) -> None:
        from tenantatlas.alerts.defaults import on_workspace_saved
        from tenantatlas.workspaces.models import Workspace

        post_save.connect(on_workspace_saved, sender=Workspace, dispatch_uid="alert-defaults")
