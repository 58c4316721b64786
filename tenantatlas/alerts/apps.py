from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "tenantatlas.alerts"
    label = "alerts"
    verbose_name = "Alerts"
