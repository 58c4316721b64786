"""The workspace overview counts a partner app's connection with the partner app's credential."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from tenantatlas.overview.queries import workspace_figures
from tenantatlas.overview.tenants import tenant_page
from tenantatlas.providers.models import ProviderCredential
from tenantatlas.providers.tests.partner_apps import make_partner_app, make_partner_connection

TENANT = "4e4e4e4e-5f5f-4a6a-8b7b-9c9c9c9c9c9c"


def test_a_partner_connection_shows_the_partner_apps_credential(alice: Any, acme: Any) -> None:
    partner_app = make_partner_app(acme, alice)
    make_partner_connection(partner_app, alice, TENANT)
    soon = timezone.now() + dt.timedelta(days=3)
    ProviderCredential.objects.filter(partner_app=partner_app).update(expires_at=soon)

    _, page = tenant_page(acme, sort="name", page_number=1, problems={})
    figures = workspace_figures([acme.pk])[acme.pk]

    assert [row.credential_state for row in page.object_list] == ["expiring"]
    assert figures.expiry.expired == 0
    assert figures.expiry.within[7] == 1
