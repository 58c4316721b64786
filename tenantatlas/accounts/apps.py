"""The accounts app: sign-in (password and Microsoft), lockout, API tokens."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core import checks


def check_microsoft_sign_in(**kwargs: Any) -> list[checks.CheckMessage]:
    """System check: Sign in with Microsoft names a configured cloud and a readable credential."""
    from django.conf import settings

    from tenantatlas.graph.clouds import UnknownCloud, get_cloud

    if not settings.MICROSOFT_SIGN_IN:
        return []
    try:
        get_cloud(settings.MICROSOFT_SIGN_IN_CLOUD)
    except UnknownCloud as exc:
        return [
            checks.Error(
                f"TENANTATLAS_MICROSOFT_SIGN_IN_CLOUD: {exc}", id="accounts.E001", obj="sign-in"
            )
        ]
    from tenantatlas.accounts.signin import sign_in_app
    from tenantatlas.lib.reasons import ProviderError

    try:
        sign_in_app().credential.msal_credential("PS256")
    except ProviderError as exc:
        return [
            checks.Error(
                f"TENANTATLAS_MICROSOFT_SIGN_IN_CERTIFICATE / _PRIVATE_KEY: {exc.message}",
                id="accounts.E002",
                obj="sign-in",
            )
        ]
    return []


class AccountsConfig(AppConfig):
    name = "tenantatlas.accounts"
    label = "accounts"
    verbose_name = "Accounts and sign-in"

    def ready(self) -> None:
        checks.register(check_microsoft_sign_in, "accounts")
