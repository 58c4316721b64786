"""The partner app form (its credential is write-only) and the start form of an onboarding."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings

from tenantatlas.graph.clouds import cloud_choices
from tenantatlas.lib.errors import InvalidInput
from tenantatlas.onboarding.services import clean_tenant_hint
from tenantatlas.providers.forms import CredentialFields
from tenantatlas.providers.models import CredentialKind, PartnerApp


class PartnerAppForm(CredentialFields):
    display_name = forms.CharField(label="Name", max_length=100, strip=True)
    cloud = forms.ChoiceField(label="Microsoft cloud", choices=())

    field_order = ["display_name", "cloud", "client_id", "credential_kind"]

    def __init__(self, *args: Any, partner_app: PartnerApp | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["cloud"].choices = cloud_choices()  # type: ignore[attr-defined]
        self.fields["cloud"].initial = settings.CLOUD_DEFAULT
        self.fields[
            "client_id"
        ].help_text = "The multi-tenant app registration's Application (client) ID."
        self.credential_optional = partner_app is not None
        if partner_app is not None:
            current = partner_app.current_credential
            self.initial.update(
                display_name=partner_app.display_name,
                cloud=partner_app.cloud,
                client_id=partner_app.client_id,
                credential_kind=current.kind if current else CredentialKind.CLIENT_SECRET,
            )
            self.fields["client_secret"].help_text = (
                "Leave empty to keep the current secret. " + self.fields["client_secret"].help_text
            )
            self.fields[
                "certificate_file"
            ].help_text = "Leave empty to keep the current certificate."


class StartOnboardingForm(forms.Form):
    customer_name = forms.CharField(label="Customer", max_length=100, strip=True)
    tenant_hint = forms.CharField(
        label="Tenant id or domain (optional)",
        required=False,
        max_length=255,
        help_text="With it, the link opens the customer's own sign-in; without it, the "
        "administrator's account decides the tenant.",
    )

    def clean_tenant_hint(self) -> str:
        try:
            return clean_tenant_hint(self.cleaned_data.get("tenant_hint") or "")
        except InvalidInput as exc:
            raise forms.ValidationError(exc.message, code=exc.code) from None
