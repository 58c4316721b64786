from __future__ import annotations

from typing import Any

import pytest

from tenantatlas.operations.tests.factories import contoso, fabrikam, initech

__all__ = ["contoso", "fabrikam", "initech"]


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    """The cast is created with real passwords; the production hasher is slow on purpose."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def smtp(settings: Any) -> Any:
    """A real SMTP server on the loopback; Django's e-mail goes to it."""
    from tenantatlas.alerts.tests.receivers import SmtpServer

    with SmtpServer() as server:
        server.configure(settings)
        yield server


@pytest.fixture
def webhook(settings: Any, tmp_path: Any) -> Any:
    """A real HTTPS webhook receiver on the loopback that checks signatures."""
    from tenantatlas.alerts.tests.receivers import WebhookReceiver

    with WebhookReceiver(tmp_path / "webhook-pki", secret="whsec-" + "k" * 32) as receiver:
        receiver.configure(settings)
        yield receiver
