"""The bulk add form: a pasted list, an uploaded text or CSV file, or both (joined)."""

from __future__ import annotations

from django import forms
from django.conf import settings

from tenantatlas.onboarding.bulk import MAX_ROWS


class BulkAddForm(forms.Form):
    entries = forms.CharField(
        label="Tenant ids",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 10, "spellcheck": "false"}),
        help_text=f"One tenant id per line, optionally followed by a comma and the customer's "
        f"name. Blank lines and lines starting with # are ignored. At most {MAX_ROWS:,} lines.",
    )
    file = forms.FileField(
        label="Or upload a text or CSV file",
        required=False,
        help_text="The same format: tenant id, name (a header line tenant_id,name is skipped).",
    )

    def clean_file(self) -> str:
        upload = self.cleaned_data.get("file")
        if not upload:
            return ""
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if upload.size > limit:
            raise forms.ValidationError(
                f"The file is larger than {limit / 1024 / 1024:.1f} MB: split the list."
            )
        try:
            return upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise forms.ValidationError("The file is not UTF-8 text (a .txt or .csv).") from None

    def clean(self) -> dict[str, object] | None:
        cleaned = super().clean() or {}
        if not self.errors and not (cleaned.get("entries") or "").strip() and not cleaned["file"]:
            raise forms.ValidationError("Paste a list of tenant ids or choose a file.")
        return cleaned

    def text(self) -> str:
        return "\n".join(
            part for part in (self.cleaned_data["entries"], self.cleaned_data["file"]) if part
        )
