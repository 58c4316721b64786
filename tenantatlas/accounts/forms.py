"""The API token form: a name, capabilities the member holds, an optional expiry date."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms

from tenantatlas.lib import dates
from tenantatlas.lib.errors import Refused
from tenantatlas.workspaces.capabilities import CAPABILITY_LABELS, PROVIDER_VIEW, can
from tenantatlas.workspaces.models import Membership


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        max_length=100, strip=True, help_text="What uses it, e.g. “Nightly export” or “CI”."
    )
    capabilities = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple,
        help_text="Only capabilities your role grants; lowering your role narrows the token too.",
    )
    expires_on = forms.DateField(
        required=False,
        label="Expires on",
        widget=forms.DateInput(attrs={"type": "date", "max": dates.LATEST_DAY.isoformat()}),
        help_text="Optional. The token stops working at the end of this day (UTC).",
    )

    def __init__(self, *args: Any, member: Membership, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [
            (cap, f"{cap} — {label}")
            for cap, label in CAPABILITY_LABELS.items()
            if can(member, cap)
        ]
        self.fields["capabilities"].choices = choices  # type: ignore[attr-defined]
        self.fields["capabilities"].initial = [PROVIDER_VIEW]

    def clean_expires_on(self) -> dt.date | None:
        value: dt.date | None = self.cleaned_data.get("expires_on")
        problem = dates.expiry_problem(dates.end_of_day(value)) if value is not None else None
        if problem:
            raise forms.ValidationError(problem)
        return value

    def add_refusal(self, exc: Refused) -> None:
        """Show a service refusal next to the field it names (the service's expires_at is ours)."""
        name = str(exc.details.get("field") or "")
        name = "expires_on" if name == "expires_at" else name
        self.add_error(name if name in self.fields else None, exc.message)

    def expires_at(self) -> dt.datetime | None:
        value = self.cleaned_data.get("expires_on")
        return dates.end_of_day(value) if value is not None else None
