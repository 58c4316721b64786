from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "tenantatlas.operations"
    label = "operations"
    verbose_name = "Operations"

    def ready(self) -> None:
        from tenantatlas.operations import listeners
        from tenantatlas.operations.events import on_run_ended, operation_run_completed

        operation_run_completed.connect(listeners.notify_requester, dispatch_uid="run-notify")
        operation_run_completed.connect(listeners.audit_completion, dispatch_uid="run-audit")
        operation_run_completed.connect(listeners.log_finished_run, dispatch_uid="run-log")
        operation_run_completed.connect(listeners.count_finished_run, dispatch_uid="run-metrics")
        on_run_ended(listeners.raise_run_alert)
