"""One date range everywhere: forms accept exactly what the API accepts, and nothing storable
overflows when it is rendered under any ``TIME_ZONE`` (UTC+14, UTC-12, historic local times).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from tenantatlas.accounts.models import ApiToken
from tenantatlas.accounts.services import create_api_token
from tenantatlas.api.tests.conftest import ApiClient, token_for
from tenantatlas.inventory.models import InventoryItem, InventoryKind
from tenantatlas.lib import dates
from tenantatlas.lib.errors import InvalidInput
from tenantatlas.providers.microsoft.mapping import device
from tenantatlas.providers.models import ProviderConnection, ProviderCredential
from tenantatlas.providers.tests.helpers import certificate_form, secret_form, url
from tenantatlas.simulator.certs import make_test_certificate
from tenantatlas.testing import client_for, make_connection
from tenantatlas.workspaces.models import Membership

TODAY = dt.datetime.now(dt.UTC).date()
# (day, the one message both form and API give, or None when both accept it)
EXPIRY_DAYS = [
    (TODAY - dt.timedelta(days=1), dates.EXPIRY_IN_PAST),
    (dt.date(1969, 12, 31), dates.EXPIRY_IN_PAST),
    (dt.date(1, 1, 1), dates.EXPIRY_IN_PAST),
    (TODAY + dt.timedelta(days=30), None),
    (dates.LATEST_DAY, None),
    (dates.LATEST_DAY + dt.timedelta(days=1), dates.EXPIRY_TOO_LATE),
    (dt.date(9999, 12, 31), dates.EXPIRY_TOO_LATE),
]
ZONES = [
    "UTC",
    "Pacific/Kiritimati",  # UTC+14
    "America/Adak",  # UTC-10/-9
    "Etc/GMT+12",  # UTC-12
    "Asia/Manila",  # a local mean time of -15:56 before 1845
]
# What a row may hold: the bounds, and rows stored before they were enforced.
STORED = [dates.EARLIEST, dates.LATEST, dt.datetime.max.replace(tzinfo=dt.UTC)]
STORED += [dt.datetime.min.replace(tzinfo=dt.UTC)]


def _page_errors(response: Any) -> str:
    return response.content.decode().replace("&#x27;", "'")


def _api_create_secret_connection(user: Any, display_name: str, expires_at: str) -> Any:
    return ApiClient(token_for(user)).call(
        "POST",
        "/connections",
        {
            "display_name": display_name,
            "entra_tenant_id": str(uuid.uuid4()),
            "credential": {
                "kind": "client_secret",
                "client_id": str(uuid.uuid4()),
                "client_secret": "s3cret",
                "expires_at": expires_at,
            },
        },
    )


# -- one rule for form and API --------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("day", "problem"), EXPIRY_DAYS)
def test_it_bounds_a_secret_expiry_the_same_in_the_form_and_the_api(
    acme: Any, alice: Any, day: dt.date, problem: str | None
) -> None:
    form = client_for(alice).post(
        url("create", acme), secret_form(secret_expires_on=day.isoformat())
    )
    api = _api_create_secret_connection(alice, "Via API", dates.end_of_day(day).isoformat())

    if problem is None:
        assert form.status_code == 302
        assert api.status_code == 201, api.content
        stored = set(ProviderCredential.objects.values_list("expires_at", flat=True))
        assert stored == {dates.end_of_day(day)}
    else:
        assert form.status_code == 200
        assert problem in _page_errors(form)
        assert api.status_code == 400
        assert api.json()["error"] == {
            "code": "invalid",
            "message": problem,
            "field": "credential.expires_at",
        }
        assert ProviderConnection.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(("day", "problem"), EXPIRY_DAYS)
def test_it_bounds_an_api_token_expiry_the_same_in_the_form_and_the_service(
    acme: Any, alice: Any, day: dt.date, problem: str | None
) -> None:
    page = client_for(alice).post(
        f"/w/{acme.slug}/tokens/",
        {"name": "Form", "capabilities": ["provider.view"], "expires_on": day.isoformat()},
    )
    member = Membership.objects.get(workspace=acme, user=alice)

    def create_in_code() -> Any:
        return create_api_token(
            actor=alice,
            member=member,
            name="Code",
            capabilities=["provider.view"],
            expires_at=dates.end_of_day(day),
        )

    if problem is None:
        assert page.status_code == 200
        assert ApiToken.objects.get().expires_at == dates.end_of_day(day)
        create_in_code()
    else:
        assert problem in _page_errors(page)
        with pytest.raises(InvalidInput) as refused:
            create_in_code()
        assert refused.value.message == problem
        assert ApiToken.objects.count() == 0


@pytest.mark.django_db
def test_it_refuses_an_api_expiry_without_a_time_zone(acme: Any, alice: Any) -> None:
    naive = dt.datetime.now() + dt.timedelta(days=3)
    response = _api_create_secret_connection(alice, "Naive", naive.isoformat())

    assert response.status_code == 400
    assert "time zone" in response.json()["error"]["message"]


# -- facts read from elsewhere are kept in range --------------------------------------------------


@pytest.mark.django_db
def test_it_stores_a_no_expiry_certificate_within_the_range(acme: Any, alice: Any) -> None:
    days = (dt.date(9999, 12, 30) - TODAY).days  # RFC 5280's "no well-defined expiry"
    key_pem, cert_pem = make_test_certificate("no-expiry", days_valid=days)
    response = client_for(alice).post(url("create", acme), certificate_form(cert_pem, key_pem))

    assert response.status_code == 302, _page_errors(response)
    assert ProviderCredential.objects.get().expires_at == dates.LATEST


@pytest.mark.parametrize("when", ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "1969-07-20"])
def test_it_reads_a_graph_date_outside_the_range_as_no_date(when: str) -> None:
    assert device({"id": "d1", "lastSyncDateTime": when}).last_sync_at is None


# -- rendering under any TIME_ZONE ----------------------------------------------------------------


def _store_extremes(acme: Any, alice: Any, when: dt.datetime) -> dict[str, Any]:
    connection = make_connection(acme, alice)
    ProviderCredential.objects.filter(connection=connection).update(expires_at=when)
    member = Membership.objects.get(workspace=acme, user=alice)
    token, plaintext = create_api_token(
        actor=alice, member=member, name="Extreme", capabilities=["provider.view", "audit.view"]
    )
    ApiToken.objects.filter(pk=token.pk).update(
        expires_at=max(when, timezone.now() + dt.timedelta(days=1))
    )
    item = InventoryItem.objects.create(
        workspace=acme,
        connection=connection,
        kind=InventoryKind.MANAGED_DEVICE,
        external_id="d1",
        display_name="LAPTOP-1",
        last_sync_at=when,
        first_seen_at=timezone.now(),
        last_seen_at=timezone.now(),
    )
    return {"connection": connection, "token": plaintext, "item": item}


@pytest.mark.django_db
@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("when", STORED, ids=lambda d: d.isoformat()[:10])
def test_it_renders_every_storable_date_in_any_time_zone(
    acme: Any, alice: Any, zone: str, when: dt.datetime
) -> None:
    rows = _store_extremes(acme, alice, when)
    pages = [
        url("list", acme),
        url("detail", acme, rows["connection"]),
        f"/w/{acme.slug}/tokens/",
        f"/w/{acme.slug}/inventory/",
        f"/w/{acme.slug}/inventory/{rows['item'].pk}/",
        f"/w/{acme.slug}/audit/?since=0001-01-01&until=9999-12-31",
    ]
    api_reads = [
        "/connections",
        f"/connections/{rows['connection'].pk}",
        "/me",
        "/inventory/managed_device",
        "/audit-events?since=0001-01-01&until=9999-12-31",
    ]

    with override_settings(TIME_ZONE=zone):
        client = client_for(alice)
        answers = {page: client.get(page).status_code for page in pages}
        api = ApiClient(rows["token"])
        answers |= {path: api.call("GET", path).status_code for path in api_reads}

    assert answers == dict.fromkeys(answers, 200)
