from django.apps import AppConfig


class OverviewConfig(AppConfig):
    name = "tenantatlas.overview"
    label = "overview"
    verbose_name = "Overview"
