from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    name = "tenantatlas.observability"
    label = "observability"
    verbose_name = "Observability"
