"""Delivering in the test's own process, the way a worker does: every due delivery, once each
round, until none is left due (a retry waiting for later stays pending)."""

from __future__ import annotations

from django.utils import timezone

from tenantatlas.alerts.delivery import deliver
from tenantatlas.alerts.models import AlertDelivery, DeliveryStatus


def deliver_due(rounds: int = 10) -> list[str | None]:
    outcomes: list[str | None] = []
    for _ in range(rounds):
        due = list(
            AlertDelivery.objects.filter(
                status=DeliveryStatus.PENDING, next_attempt_at__lte=timezone.now()
            )
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if not due:
            break
        outcomes.extend(deliver(pk) for pk in due)
    return outcomes
