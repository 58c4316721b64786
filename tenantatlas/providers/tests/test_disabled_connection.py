"""A disabled connection is never the default and is never offered operations."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from tenantatlas.api.tests.conftest import ApiClient, token_for
from tenantatlas.audit.models import AuditEvent
from tenantatlas.lib.errors import Refused
from tenantatlas.operations.models import OperationRun, RunStatus
from tenantatlas.operations.registry import OPERATIONS
from tenantatlas.providers.models import ConnectionStatus, ProviderConnection
from tenantatlas.providers.services.connections import delete_connection, set_connection_status
from tenantatlas.providers.tests.helpers import (
    TENANT_B,
    TENANT_C,
    actions,
    counts,
    defaults,
    fresh,
    make_run,
    url,
)
from tenantatlas.testing import client_for, make_connection

DISABLED_NOTE = "Disabled — enable it to run operations"


def disable(alice: Any, connection: ProviderConnection, **kwargs: Any) -> ProviderConnection:
    return set_connection_status(actor=alice, connection=connection, enabled=False, **kwargs)


# -- the default -----------------------------------------------------------------------------------


def test_it_leaves_no_default_when_the_only_connection_is_disabled(
    alice: Any, acme: Any, contoso: Any
) -> None:
    response = client_for(alice).post(url("status", acme, contoso), {})

    assert response.status_code == 302
    assert fresh(contoso).status == ConnectionStatus.DISABLED
    assert defaults(acme) == []


def test_it_leaves_no_default_when_every_other_connection_is_disabled(
    alice: Any, acme: Any, contoso: Any, fabrikam: Any
) -> None:
    disable(alice, fabrikam)

    response = client_for(alice).post(url("status", acme, contoso), {})

    assert response.status_code == 302
    assert fresh(contoso).status == ConnectionStatus.DISABLED
    assert defaults(acme) == []


def test_it_offers_only_enabled_connections_to_take_over_the_default(
    alice: Any, acme: Any, contoso: Any, fabrikam: Any
) -> None:
    northwind = make_connection(acme, alice, name="Northwind", entra_tenant_id=TENANT_C)
    disable(alice, northwind)

    page = client_for(alice).get(url("status", acme, contoso)).content.decode()

    assert f'value="{fabrikam.pk}"' in page
    assert f'value="{northwind.pk}"' not in page


def test_it_refuses_a_disabled_connection_as_the_new_default(
    alice: Any, acme: Any, contoso: Any, fabrikam: Any
) -> None:
    disable(alice, fabrikam)
    before = counts()

    response = client_for(alice).post(url("status", acme, contoso), {"new_default": fabrikam.pk})

    assert response.status_code == 200
    assert fresh(contoso).status == ConnectionStatus.ENABLED
    assert defaults(acme) == ["Contoso"]
    assert counts() == before
    with pytest.raises(Refused):
        delete_connection(actor=alice, connection=contoso, new_default=fabrikam)
    assert defaults(acme) == ["Contoso"]


def test_it_refuses_to_make_a_disabled_connection_the_default(
    alice: Any, acme: Any, contoso: Any, fabrikam: Any
) -> None:
    disable(alice, fabrikam)
    before = counts()

    response = client_for(alice).post(url("set_default", acme, fabrikam), follow=True)

    assert response.status_code == 200
    assert "“Fabrikam” is disabled: enable it before making it the default." in (
        response.content.decode()
    )
    assert defaults(acme) == ["Contoso"]
    assert counts() == before
    api = ApiClient(token_for(alice)).call("POST", f"/connections/{fabrikam.pk}/default")
    assert api.status_code == 409
    assert api.json()["error"]["code"] == "connection_disabled"
    assert defaults(acme) == ["Contoso"]


def test_it_does_not_hand_the_default_back_when_the_old_default_is_enabled(
    alice: Any, acme: Any, contoso: Any, fabrikam: Any
) -> None:
    disable(alice, contoso, new_default=fabrikam)
    assert defaults(acme) == ["Fabrikam"]

    set_connection_status(actor=alice, connection=contoso, enabled=True)

    assert defaults(acme) == ["Fabrikam"]
    assert actions()[-1] == "connection.enabled"


def test_it_makes_an_enabled_connection_the_default_only_when_there_is_none(
    alice: Any, acme: Any, contoso: Any
) -> None:
    disable(alice, contoso)
    assert defaults(acme) == []

    response = client_for(alice).post(url("status", acme, contoso), {"enabled": "1"}, follow=True)

    assert defaults(acme) == ["Contoso"]
    assert actions()[-2:] == ["connection.enabled", "connection.default_set"]
    assert "It is now the default connection" in response.content.decode()


def test_it_gives_a_new_connection_the_default_when_only_disabled_ones_exist(
    alice: Any, acme: Any, contoso: Any
) -> None:
    disable(alice, contoso)

    make_connection(acme, alice, name="Fabrikam", entra_tenant_id=TENANT_B)

    assert defaults(acme) == ["Fabrikam"]


# -- never offered operations ----------------------------------------------------------------------


def start_url(connection: ProviderConnection, operation_type: str) -> str:
    kwargs = {"slug": connection.workspace.slug, "pk": connection.pk}
    return reverse("providers:start", kwargs={**kwargs, "operation_type": operation_type})


def _operation_forms(page: str, connection: ProviderConnection) -> list[str]:
    return [key for key in OPERATIONS if start_url(connection, key) in page]


@pytest.mark.parametrize("page_name", ["list", "detail"])
def test_it_offers_no_operations_on_a_disabled_connection_and_says_why(
    alice: Any, bob: Any, acme: Any, contoso: Any, fabrikam: Any, page_name: str
) -> None:
    disable(alice, fabrikam)

    def render(user: Any) -> str:
        client = client_for(user)
        if page_name == "detail":
            return client.get(url("detail", acme, fabrikam)).content.decode()
        page = client.get(url("list", acme)).content.decode()
        for connection in (contoso, fabrikam):  # the menus a person opens fetch their items
            actions = url("actions", acme, connection)
            if f'hx-get="{actions}"' in page:
                page += client.get(actions).content.decode()
        return page

    as_owner, as_operator = render(alice), render(bob)

    assert _operation_forms(as_owner, fabrikam) == []
    assert _operation_forms(as_operator, fabrikam) == []
    assert DISABLED_NOTE in as_owner
    assert DISABLED_NOTE not in as_operator
    if page_name == "list":  # the enabled one next to it keeps its operations
        assert _operation_forms(as_owner, contoso) == list(OPERATIONS)
        assert _operation_forms(as_operator, contoso) == list(OPERATIONS)


def test_it_offers_no_set_as_default_for_a_disabled_connection(
    alice: Any, acme: Any, contoso: Any, fabrikam: Any
) -> None:
    disable(alice, fabrikam)

    page = client_for(alice).get(url("detail", acme, fabrikam)).content.decode()

    assert url("set_default", acme, fabrikam) not in page


def test_it_refuses_a_start_on_a_disabled_connection_even_while_its_run_is_active(
    alice: Any, acme: Any, contoso: Any
) -> None:
    """A run queued before the connection was disabled must not make a start look accepted."""
    queued = make_run(contoso, status=RunStatus.QUEUED)
    disable(alice, contoso)
    page = client_for(alice).post(start_url(contoso, "inventory.sync"), follow=True)
    api = ApiClient(token_for(alice)).call(
        "POST", "/runs", {"connection_id": contoso.pk, "operation_type": "inventory.sync"}
    )

    assert "“Contoso” is disabled: enable it before running operations." in page.content.decode()
    assert api.status_code == 409
    error = api.json()["error"]
    assert error["code"] == "connection_disabled"
    assert "is disabled" in error["message"]
    assert list(OperationRun.objects.values_list("pk", flat=True)) == [queued.pk]
    refusals = AuditEvent.objects.filter(action="operation.refused")
    assert [e.metadata["trigger"] for e in refusals.order_by("id")] == ["ui", "api"]
    assert not AuditEvent.objects.filter(action="operation.deduplicated").exists()


def test_it_hands_over_disabled_defaults_left_by_earlier_versions(
    alice: Any, acme: Any, globex: Any, mallory: Any, contoso: Any, fabrikam: Any
) -> None:
    import importlib

    from django.apps import apps

    migration = importlib.import_module(
        "tenantatlas.providers.migrations.0002_disabled_connections_are_never_default"
    )
    lonely = make_connection(globex, mallory, name="Lonely", entra_tenant_id=TENANT_C)
    ProviderConnection.objects.filter(pk__in=[contoso.pk, lonely.pk]).update(
        status=ConnectionStatus.DISABLED
    )

    migration.hand_over_disabled_defaults(apps, None)

    assert defaults(acme) == ["Fabrikam"]
    assert defaults(globex) == []
