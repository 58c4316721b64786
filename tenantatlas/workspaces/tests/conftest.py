"""Fixtures for the foundation tests (workspaces, providers, audit, badges, accounts)."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    """The cast signs in with real passwords; the production hasher takes ~0.5 s per user."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
