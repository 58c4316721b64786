"""The rule and channel forms. They parse what was typed; the configuration services judge it
(``alerts/configuration``) and their refusals are shown on the field they name.

Secrets are write-only: the signing secret and the Teams workflow URL are password fields that
are never rendered back, not even after a refused save.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms

from tenantatlas.alerts.configuration import (
    ChannelInput,
    RuleInput,
    change_kind_choices,
    live_connections,
)
from tenantatlas.alerts.models import (
    AlertChannel,
    AlertRule,
    ChannelKind,
    Digest,
    EventKind,
    Severity,
)
from tenantatlas.lib.errors import Refused
from tenantatlas.workspaces.models import Role, Workspace

ALL, CHOSEN = "all", "chosen"
SCOPE_CHOICES = [(ALL, "All connections"), (CHOSEN, "Chosen connections")]
_LIST_SEPARATORS = re.compile(r"[\s,;]+")


class _RefusalsOnFields(forms.Form):
    def field_for(self, name: str) -> str:
        """This form's field for the service's field name."""
        return name

    def add_refusal(self, exc: Refused) -> None:
        """Show a service refusal next to the field it names."""
        name = self.field_for(str(exc.details.get("field") or ""))
        self.add_error(name if name in self.fields else None, exc.message)


class ConnectionChoices(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        disabled = " (disabled)" if getattr(obj, "status", "") == "disabled" else ""
        return f"{obj.display_name}{disabled}"


class RuleForm(_RefusalsOnFields):
    name = forms.CharField(max_length=100, strip=True)
    event_kind = forms.ChoiceField(label="Event", choices=EventKind.choices)
    is_enabled = forms.BooleanField(label="Rule is on", required=False, initial=True)
    scope = forms.ChoiceField(
        label="Connections", choices=SCOPE_CHOICES, initial=ALL, widget=forms.RadioSelect
    )
    connections = ConnectionChoices(
        label="Connections it watches",
        queryset=None,
        required=False,
        widget=forms.SelectMultiple,
        help_text="Hold Ctrl (⌘ on a Mac) to choose several.",
    )
    min_severity = forms.TypedChoiceField(
        label="From severity", coerce=int, choices=Severity.choices, initial=Severity.WARNING
    )
    digest = forms.ChoiceField(label="Send", choices=Digest.choices, initial=Digest.IMMEDIATE)
    hours = forms.IntegerField(
        label="Hours without a successful sync or snapshot",
        required=False,
        initial=24,
        widget=forms.NumberInput(attrs={"min": 1, "max": 720}),
    )
    share_above = forms.DecimalField(
        label="Non-compliant share above (%)",
        required=False,
        decimal_places=1,
        widget=forms.NumberInput(attrs={"min": 0, "max": 99.9, "step": 0.1}),
        help_text="Alerts when a snapshot crosses it.",
    )
    points_up = forms.DecimalField(
        label="Or rising by (points)",
        required=False,
        decimal_places=1,
        widget=forms.NumberInput(attrs={"min": 0.1, "max": 100, "step": 0.1}),
        help_text="Since the snapshot before.",
    )
    kinds = forms.MultipleChoiceField(
        label="Kinds of item",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None chosen: changes of every kind.",
    )
    recipient_roles = forms.MultipleChoiceField(
        label="Members to tell",
        choices=Role.choices,
        required=False,
        initial=[Role.OWNER, Role.MANAGER],
        widget=forms.CheckboxSelectMultiple,
        help_text="In-app and e-mail channels reach the members in these roles.",
    )
    channels: forms.ModelMultipleChoiceField[Any] = forms.ModelMultipleChoiceField(
        label="Channels",
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None chosen: the rule sends nothing.",
    )

    def __init__(
        self, data: Any = None, *, workspace: Workspace, rule: AlertRule | None = None
    ) -> None:
        super().__init__(data, initial=self.initial_of(rule) if rule is not None else None)
        connections = self.fields["connections"]
        live = live_connections(workspace).order_by("display_name", "pk")
        connections.queryset = live  # type: ignore[attr-defined]
        connections.widget.attrs["size"] = max(2, min(8, live.count()))
        channels = self.fields["channels"]
        channels.queryset = AlertChannel.objects.for_workspace(workspace)  # type: ignore[attr-defined]
        self.fields["kinds"].choices = change_kind_choices()  # type: ignore[attr-defined]

    @staticmethod
    def initial_of(rule: AlertRule) -> dict[str, Any]:
        params = rule.params or {}
        return {
            "name": rule.name,
            "event_kind": rule.event_kind,
            "is_enabled": rule.is_enabled,
            "scope": ALL if rule.all_connections else CHOSEN,
            "connections": list(rule.connections.all()),
            "min_severity": rule.min_severity,
            "digest": rule.digest,
            "hours": params.get("hours", 24),
            "share_above": params.get("share_above"),
            "points_up": params.get("points_up"),
            "kinds": params.get("kinds", []),
            "recipient_roles": rule.recipient_roles,
            "channels": list(rule.channels.all()),
        }

    def rule_input(self) -> RuleInput:
        data = self.cleaned_data
        params = {
            "hours": data.get("hours"),
            "share_above": _float(data.get("share_above")),
            "points_up": _float(data.get("points_up")),
            "kinds": data.get("kinds") or [],
        }
        return RuleInput(
            name=data["name"],
            event_kind=data["event_kind"],
            all_connections=data["scope"] == ALL,
            connection_ids=[c.pk for c in data.get("connections") or []],
            min_severity=data["min_severity"],
            digest=data["digest"],
            recipient_roles=data.get("recipient_roles") or [],
            params=params,
            channel_ids=[c.pk for c in data.get("channels") or []],
            is_enabled=bool(data.get("is_enabled")),
        )


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


class ChannelForm(_RefusalsOnFields):
    name = forms.CharField(max_length=100, strip=True)
    kind = forms.ChoiceField(label="Kind", choices=ChannelKind.choices, initial=ChannelKind.WEBHOOK)
    is_enabled = forms.BooleanField(label="Channel is on", required=False, initial=True)
    to_members = forms.BooleanField(
        label="Send to the members in each rule's roles", required=False, initial=True
    )
    addresses = forms.CharField(
        label="Other addresses",
        required=False,
        max_length=6000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line (or separated by commas), at most 20.",
    )
    url = forms.CharField(
        label="Receiver URL",
        required=False,
        max_length=2000,
        widget=forms.URLInput(attrs={"autocomplete": "off", "placeholder": "https://"}),
        help_text="https only; deliveries are POSTed here as JSON, signed with the secret.",
    )
    secret = forms.CharField(
        label="Signing secret",
        required=False,
        max_length=256,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Leave empty to have one generated (shown once). Write-only: never shown again.",
    )
    teams_url = forms.CharField(
        label="Workflow URL",
        required=False,
        max_length=2000,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="The URL of the Teams workflow “When a Teams webhook request is received”. "
        "It carries its own signature, so it is kept like a secret and never shown again.",
    )

    def __init__(self, data: Any = None, *, channel: AlertChannel | None = None) -> None:
        self.channel = channel
        initial = None
        if channel is not None:
            initial = {
                "name": channel.name,
                "kind": channel.kind,
                "is_enabled": channel.is_enabled,
                "to_members": channel.to_members,
                "addresses": "\n".join(channel.addresses or []),
            }
        super().__init__(data, initial=initial)
        if channel is not None:
            self.fields["kind"].disabled = True
            self.fields["kind"].initial = channel.kind
            self.fields["kind"].help_text = "A channel keeps its kind."
            keep = f"Now {channel.url_display}; leave empty to keep it."
            self.fields["url"].help_text = keep
            self.fields["teams_url"].help_text = keep
            self.fields[
                "secret"
            ].help_text = "Leave empty to keep the current secret. Write-only: never shown."

    @property
    def chosen_kind(self) -> str:
        if self.channel is not None:
            return self.channel.kind
        return str(self.cleaned_data.get("kind") or self.data.get("kind") or "")

    def field_for(self, name: str) -> str:
        return "teams_url" if name == "url" and self.chosen_kind == ChannelKind.TEAMS else name

    def channel_input(self) -> ChannelInput:
        data = self.cleaned_data
        kind = self.chosen_kind
        url = data.get("teams_url") if kind == ChannelKind.TEAMS else data.get("url")
        return ChannelInput(
            name=data["name"],
            kind=kind,
            to_members=bool(data.get("to_members")),
            addresses=[a for a in _LIST_SEPARATORS.split(data.get("addresses") or "") if a],
            url=url or None,
            secret=(data.get("secret") or None) if kind == ChannelKind.WEBHOOK else None,
            is_enabled=bool(data.get("is_enabled")),
        )


class SecretForm(forms.Form):
    """Replacing a webhook's signing secret: one given, or (empty) one generated."""

    secret = forms.CharField(
        label="New signing secret",
        required=False,
        max_length=256,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Leave empty to have one generated (shown once).",
    )
