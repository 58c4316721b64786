"""Connections of Acme for the provider tests: Contoso (made first, so the default), Fabrikam."""

from __future__ import annotations

from typing import Any

import pytest

from tenantatlas.providers.models import ProviderConnection
from tenantatlas.providers.tests.helpers import TENANT_A, TENANT_B
from tenantatlas.testing import make_connection


@pytest.fixture
def contoso(alice: Any, acme: Any) -> ProviderConnection:
    return make_connection(acme, alice, name="Contoso", entra_tenant_id=TENANT_A)


@pytest.fixture
def fabrikam(alice: Any, acme: Any, contoso: ProviderConnection) -> ProviderConnection:
    return make_connection(acme, alice, name="Fabrikam", entra_tenant_id=TENANT_B)
