"""The Connections list's filters and sort: a plain GET form, so the list filters without
JavaScript.

The parameter names and values are part of the page's address (other pages link to them):
``health=healthy|degraded|unhealthy|unknown``, ``status=enabled|disabled``,
``expiry=expired|7|30|60|none``, ``sort=name|health|expiry|last_check`` (``-`` first for
descending) and ``q`` (search over names, tenant ids and domains).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.db.models import Case, Exists, F, OrderBy, OuterRef, Q, Subquery, Value, When
from django.db.models.fields import IntegerField
from django.utils import timezone

from tenantatlas.providers.models import (
    ConnectionQuerySet,
    ConnectionStatus,
    Health,
    ProviderCredential,
)

HEALTH_CHOICES = [
    ("", "Any health"),
    (Health.HEALTHY, "Healthy"),
    (Health.DEGRADED, "Degraded"),
    (Health.UNHEALTHY, "Unhealthy"),
    (Health.UNKNOWN, "Not checked"),
]
STATUS_CHOICES = [("", "Any status"), *ConnectionStatus.choices]
EXPIRY_CHOICES = [
    ("", "Any expiry"),
    ("expired", "Expired"),
    ("7", "Expires within 7 days"),
    ("30", "Expires within 30 days"),
    ("60", "Expires within 60 days"),
    ("none", "No expiry set"),
]
SORT_CHOICES = [
    ("", "Default order"),
    ("name", "Name A–Z"),
    ("-name", "Name Z–A"),
    ("health", "Health, healthy first"),
    ("-health", "Health, not checked first"),
    ("expiry", "Expiry, soonest first"),
    ("-expiry", "Expiry, latest first"),
    ("last_check", "Last check, oldest first"),
    ("-last_check", "Last check, newest first"),
]
# The order of `sort=health`: the order the health filter lists them, "Not checked" last.
HEALTH_RANK = {Health.HEALTHY: 0, Health.DEGRADED: 1, Health.UNHEALTHY: 2, Health.UNKNOWN: 3}
FILTER_NAMES = ("q", "health", "status", "expiry", "sort")


def _current_expiry() -> Subquery:
    current = ProviderCredential.objects.current().filter(connection=OuterRef("pk"))
    return Subquery(current.values("expires_at")[:1])


def _health_rank() -> Case:
    return Case(
        *(When(health=value, then=Value(rank)) for value, rank in HEALTH_RANK.items()),
        default=Value(len(HEALTH_RANK)),
        output_field=IntegerField(),
    )


def _ordering(sort: str) -> list[OrderBy | str]:
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    expression = {
        "name": F("display_name"),
        "health": F("health_rank"),
        "expiry": F("current_expires_at"),
        "last_check": F("health_checked_at"),
    }[key]
    # Connections without a value (no expiry, never checked) come last either way.
    first = expression.desc(nulls_last=True) if descending else expression.asc(nulls_last=True)
    return [first, F("display_name").asc(), F("pk").asc()]


class ConnectionFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=100, strip=True, label="Search")
    health = forms.ChoiceField(required=False, choices=HEALTH_CHOICES, label="Health")
    status = forms.ChoiceField(required=False, choices=STATUS_CHOICES, label="Status")
    expiry = forms.ChoiceField(required=False, choices=EXPIRY_CHOICES, label="Credential expiry")
    sort = forms.ChoiceField(required=False, choices=SORT_CHOICES, label="Sort")

    def __init__(self, data: Any = None, **kwargs: Any) -> None:
        # Only the filter's own parameters bind it: `page` and htmx's own are not filters.
        if data is not None:
            data = {name: data.get(name, "") for name in FILTER_NAMES if name in data}
        super().__init__(data or None, **kwargs)
        for name in ("health", "status", "expiry", "sort"):
            self.fields[name].widget.attrs["id"] = f"filter-{name}"
        self.fields["q"].widget = forms.TextInput(
            attrs={
                "type": "search",
                "id": "filter-q",
                "placeholder": "Search name, domain or tenant id",
            }
        )

    @property
    def active(self) -> bool:
        """Whether the list shown is narrowed (by valid filters)."""
        if not self.is_bound or not self.is_valid():
            return False
        return any(self.cleaned_data.get(name) for name in ("q", "health", "status", "expiry"))

    def apply(
        self, connections: ConnectionQuerySet, *, now: dt.datetime | None = None
    ) -> ConnectionQuerySet:
        """The filtered and sorted connections; any invalid value leaves the list unfiltered
        (the form shows what was wrong)."""
        connections = connections.annotate(
            current_expires_at=_current_expiry(), health_rank=_health_rank()
        )
        if not self.is_bound or not self.is_valid():
            return connections
        data = self.cleaned_data
        if data["q"]:
            search = data["q"]
            connections = connections.filter(
                Q(display_name__icontains=search)
                | Q(entra_tenant_name__icontains=search)
                | Q(default_domain__icontains=search)
                | Q(entra_tenant_id__icontains=search)
            )
        if data["health"]:
            connections = connections.filter(health=data["health"])
        if data["status"]:
            connections = connections.filter(status=data["status"])
        if data["expiry"]:
            connections = connections.filter(_expiry_filter(data["expiry"], now or timezone.now()))
        if data["sort"]:
            connections = connections.order_by(*_ordering(data["sort"]))
        return connections


def _expiry_filter(expiry: str, now: dt.datetime) -> Q:
    """expired: the current credential's expiry has passed; 7/30/60: it falls within that
    many days from now (not yet passed); none: the current credential has no expiry."""
    if expiry == "expired":
        return Q(current_expires_at__lte=now)
    if expiry == "none":
        no_expiry = ProviderCredential.objects.current().filter(
            connection=OuterRef("pk"), expires_at__isnull=True
        )
        return Q(Exists(no_expiry))
    days = int(expiry)
    return Q(current_expires_at__gt=now, current_expires_at__lte=now + dt.timedelta(days=days))
