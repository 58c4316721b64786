"""Channel secrets are sealed like credentials and follow the encryption keys' rotation."""

from __future__ import annotations

import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command

from tenantatlas.alerts.models import AlertChannel, ChannelKind
from tenantatlas.alerts.secrets import SecretUnreadable, open_secret, seal

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


def test_a_sealed_secret_opens_only_with_the_keys(settings):
    settings.ENCRYPTION_KEYS = [OLD_KEY]
    sealed = seal("whsec-correct-horse")
    assert "whsec" not in sealed
    assert open_secret(sealed) == "whsec-correct-horse"
    settings.ENCRYPTION_KEYS = [NEW_KEY]
    with pytest.raises(SecretUnreadable):
        open_secret(sealed)


def test_the_key_rotation_command_reseals_channel_secrets(settings, acme):
    settings.ENCRYPTION_KEYS = [OLD_KEY]
    channel = AlertChannel.objects.create(
        workspace=acme, name="hook", kind=ChannelKind.WEBHOOK, url="https://desk.example/h",
        secret_ciphertext=seal("whsec-rotated-with-the-rest"),
    )  # fmt: skip
    settings.ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    out = io.StringIO()
    call_command("rotate_encryption_keys", stdout=out)
    assert "Re-encrypted 1 alert channel secret(s); 0 unreadable" in out.getvalue()

    settings.ENCRYPTION_KEYS = [NEW_KEY]  # the old key can go now
    channel.refresh_from_db()
    assert open_secret(channel.secret_ciphertext) == "whsec-rotated-with-the-rest"
