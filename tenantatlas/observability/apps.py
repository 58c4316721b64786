from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    name = "tenantatlas.observability"
    label = "observability"
    verbose_name = "Observability"

    def ready(self) -> None:
        from tenantatlas.lib.health_views import register_readiness_report
        from tenantatlas.observability.queue import readiness_report

        register_readiness_report(readiness_report)
