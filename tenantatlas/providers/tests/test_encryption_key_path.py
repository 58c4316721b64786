"""The credential forms name the encryption-key file only to people who manage the install."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from tenantatlas.testing import client_for, make_user
from tenantatlas.workspaces.models import Membership, Role

KEY_FILE = "/srv/tenantatlas/secret-keys/encryption.keys"
SENTENCE = "Secrets and private keys are encrypted at rest"


@pytest.fixture(autouse=True)
def _key_file(settings: Any) -> None:
    settings.ENCRYPTION_KEYS_FILE = KEY_FILE


@pytest.fixture
def admin(acme: Any) -> Any:
    user = make_user("root-admin", is_superuser=True, is_staff=True)
    Membership.objects.create(workspace=acme, user=user, role=Role.OWNER)
    return user


@pytest.mark.parametrize("page", ["create", "edit", "rotate"])
def test_a_workspace_owner_sees_the_sentence_without_the_path(
    alice: Any, contoso: Any, page: str
) -> None:
    args = ["acme"] if page == "create" else ["acme", contoso.pk]
    html = client_for(alice).get(reverse(f"providers:{page}", args=args)).text
    assert SENTENCE in html
    assert KEY_FILE not in html
    assert "with the key kept in" not in html


@pytest.mark.parametrize("page", ["create", "rotate"])
def test_a_superuser_sees_where_the_key_is_kept(admin: Any, contoso: Any, page: str) -> None:
    args = ["acme"] if page == "create" else ["acme", contoso.pk]
    html = client_for(admin).get(reverse(f"providers:{page}", args=args)).text
    assert f"with the key kept in <code>{KEY_FILE}</code>" in html
