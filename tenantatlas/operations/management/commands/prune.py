"""Delete everything older than its retention (docs/operations.md, "Retention")."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from tenantatlas.lib.actors import COMMAND
from tenantatlas.operations import retention

# kind → (what goes, the Django setting with its age in days; "" for none)
RULES = {
    "runs": ("finished runs", "RETENTION_RUNS_DAYS"),
    "audit_events": ("audit events", "RETENTION_AUDIT_DAYS"),
    "notifications": ("notifications", "RETENTION_NOTIFICATIONS_DAYS"),
    "tasks": ("finished task-queue rows", "RETENTION_TASKS_DAYS"),
    "sessions": ("expired sessions", ""),
    "changes": ("change history", "CHANGE_RETENTION_DAYS"),
    "alerts": ("alert events and finished deliveries", "ALERT_RETENTION_DAYS"),
}


class Command(BaseCommand):
    help = (
        "Delete finished runs, audit events, notifications, finished task-queue rows, expired "
        "sessions, change history and alerts older than their retention (TENANTATLAS_RETENTION_*, "
        "TENANTATLAS_CHANGE_RETENTION_DAYS, TENANTATLAS_ALERT_RETENTION_DAYS), oldest first, in "
        "short transactions of 1,000 rows. Active runs and the runs a connection or schedule "
        "names as its latest stay. Each workspace that lost rows gets a retention.pruned audit "
        "event."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Print what would go; delete nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["dry_run"]:
            counts = retention.count_due()
            self.stdout.write("Would prune (dry run, nothing was deleted):")
        else:
            counts = retention.prune_all(actor=COMMAND)
            self.stdout.write("Pruned:")
        for kind, (what, setting) in RULES.items():
            count = f"{counts[kind]:>9}"
            if options["dry_run"] and kind == "alerts" and counts[kind] >= retention.ALERTS_COUNTED:
                count = f"at least {counts[kind]}"
            if setting:
                what += f", older than {getattr(settings, setting)} days (TENANTATLAS_{setting})"
            self.stdout.write(f"  {kind:<14}{count}  {what}")
