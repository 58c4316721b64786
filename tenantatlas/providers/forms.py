"""Connection and credential forms. Secrets are write-only: never rendered back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from tenantatlas.graph.clouds import cloud_choices
from tenantatlas.lib import dates
from tenantatlas.operations.registry import OPERATION_ACTIONS
from tenantatlas.operations.schedules import INTERVAL_CHOICES
from tenantatlas.providers.credential_input import (
    MAX_PEM_SIZE,
    CertificateExpired,
    CredentialInput,
    CredentialInputError,
    InputPart,
    certificate_input,
    secret_input,
)
from tenantatlas.providers.models import CredentialKind, ProviderConnection
from tenantatlas.providers.services.defaults import enabled_successors

GUID_HELP = "A GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47."
# Which field of the form shows a problem with each part of the credential.
FIELD_OF: dict[InputPart, str] = {
    "client_secret": "client_secret",
    "expires_at": "secret_expires_on",
    "certificate": "certificate_file",
    "private_key": "private_key_file",
    "accept_expired": "accept_expired",
}


class GuidField(forms.UUIDField):
    default_error_messages = {"invalid": "Enter a GUID, e.g. 72f988bf-86f1-41af-91ab-2d7cd011db47."}


class CredentialFields(forms.Form):
    """The credential half of the create, edit and rotate forms."""

    client_id = GuidField(
        label="Application (client) ID", help_text="From the app registration's overview page."
    )
    credential_kind = forms.ChoiceField(
        label="Credential type",
        choices=CredentialKind.choices,
        initial=CredentialKind.CLIENT_SECRET,
        widget=forms.RadioSelect,
    )
    client_secret = forms.CharField(
        label="Client secret value",
        required=False,
        max_length=1024,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Write-only: it is encrypted at once and never shown again.",
    )
    secret_expires_on = forms.DateField(
        label="Secret expires on",
        required=False,
        widget=forms.DateInput(attrs={"type": "date", "max": dates.LATEST_DAY.isoformat()}),
        help_text="As shown under Certificates & secrets; used for expiry warnings.",
    )
    certificate_file = forms.FileField(
        label="Certificate (PEM)",
        required=False,
        help_text="The certificate uploaded to the app registration; may also contain the key.",
    )
    private_key_file = forms.FileField(
        label="Private key (PEM)",
        required=False,
        help_text="Leave empty if it is in the file above.",
    )
    key_passphrase = forms.CharField(
        label="Key passphrase",
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
    accept_expired = forms.BooleanField(
        label="Save although the certificate has expired", required=False
    )

    credential_optional = False
    credential: CredentialInput | None = None

    def _read_upload(self, name: str) -> bytes | None:
        upload = self.cleaned_data.get(name)
        if not upload:
            return None
        if upload.size > MAX_PEM_SIZE:
            self.add_error(name, "This file is too large for a PEM certificate or key.")
            return None
        return bytes(upload.read())

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("credential_kind")
        if kind == CredentialKind.CLIENT_SECRET:
            self._clean_secret(data)
        elif kind == CredentialKind.CERTIFICATE:
            self._clean_certificate(data)
        return data

    def _clean_secret(self, data: dict[str, Any]) -> None:
        secret = data.get("client_secret") or ""
        if not secret and self.credential_optional:
            return  # keep the current credential
        expires = data.get("secret_expires_on")
        self._accept(
            lambda client_id: secret_input(
                client_id=client_id,
                client_secret=secret,
                expires_at=dates.end_of_day(expires) if expires else None,
            )
        )

    def _clean_certificate(self, data: dict[str, Any]) -> None:
        cert_bytes = self._read_upload("certificate_file")
        key_bytes = self._read_upload("private_key_file")
        if cert_bytes is None:
            if not self.credential_optional and "certificate_file" not in self.errors:
                self.add_error("certificate_file", "Upload the certificate as a PEM file.")
            return
        self._accept(
            lambda client_id: certificate_input(
                client_id=client_id,
                certificate_pem=cert_bytes,
                private_key_pem=key_bytes,
                passphrase=data.get("key_passphrase") or "",
                accept_expired=bool(data.get("accept_expired")),
            )
        )

    def _accept(self, validate: Callable[[str], CredentialInput]) -> None:
        """Keep the validated credential, or show the rule it breaks on its field."""
        try:
            self.credential = validate(str(self.cleaned_data.get("client_id") or ""))
        except CertificateExpired as exc:
            self.add_error(
                "accept_expired",
                f"{exc.message} Tick the box to save it anyway "
                "(health checks will report it as expired).",
            )
        except CredentialInputError as exc:
            self.add_error(FIELD_OF[exc.part], ValidationError(exc.message, code=exc.code))

    def credential_input(self) -> CredentialInput | None:
        """The new credential, or None when the fields were left empty (keep the current one)."""
        return self.credential


class ConnectionForm(CredentialFields):
    display_name = forms.CharField(label="Name", max_length=100, strip=True)
    entra_tenant_id = GuidField(label="Directory (tenant) ID", help_text=GUID_HELP)
    cloud = forms.ChoiceField(label="Microsoft cloud", choices=())

    field_order = ["display_name", "entra_tenant_id", "cloud", "client_id", "credential_kind"]

    def __init__(self, *args: Any, connection: ProviderConnection | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["cloud"].choices = cloud_choices()  # type: ignore[attr-defined]
        self.fields["cloud"].initial = settings.CLOUD_DEFAULT
        self.credential_optional = connection is not None
        if connection is not None:
            current = connection.current_credential
            self.initial.update(
                display_name=connection.display_name,
                entra_tenant_id=connection.entra_tenant_id,
                cloud=connection.cloud,
                client_id=current.client_id if current else "",
                credential_kind=current.kind if current else CredentialKind.CLIENT_SECRET,
            )
            self.fields["client_secret"].help_text = (
                "Leave empty to keep the current secret. " + self.fields["client_secret"].help_text
            )
            self.fields[
                "certificate_file"
            ].help_text = "Leave empty to keep the current certificate."


class RotateCredentialForm(CredentialFields):
    def __init__(self, *args: Any, connection: ProviderConnection, **kwargs: Any):
        super().__init__(*args, **kwargs)
        current = connection.current_credential
        if current is not None:
            self.initial.update(client_id=current.client_id, credential_kind=current.kind)


class ChooseDefaultForm(forms.Form):
    """Pick the (enabled) connection that takes over as default when the default is deleted or
    disabled."""

    new_default = forms.ModelChoiceField(
        queryset=ProviderConnection.objects.none(), required=False, label="New default connection"
    )

    def __init__(self, *args: Any, connection: ProviderConnection, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["new_default"].queryset = enabled_successors(connection)  # type: ignore[attr-defined]


class ScheduleForm(forms.Form):
    operation_type = forms.ChoiceField(choices=OPERATION_ACTIONS)
    interval_minutes = forms.TypedChoiceField(
        choices=[("", "Not scheduled"), *INTERVAL_CHOICES],
        coerce=int,
        empty_value=None,
        required=False,
    )

    def interval(self) -> int | None:
        value = self.cleaned_data.get("interval_minutes")
        return int(value) if value else None
