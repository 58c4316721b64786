from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "tenantatlas.inventory"
    label = "inventory"
    verbose_name = "Inventory"

    def ready(self) -> None:
        from tenantatlas.alerts.ticks import register_scan
        from tenantatlas.inventory.alert_events import scan_stale_data

        register_scan("stale-data", scan_stale_data)
