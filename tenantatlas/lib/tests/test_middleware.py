import re
import uuid
from typing import Any

import pytest
from django.test import RequestFactory
from django.urls import reverse

from tenantatlas.audit.models import AuditEvent
from tenantatlas.lib.middleware import client_ip
from tenantatlas.testing import client_for, make_connection


def test_it_uses_the_socket_address_without_trusted_proxies(settings):
    settings.PROXY_HOPS = 0
    request = RequestFactory().get("/", HTTP_X_FORWARDED_FOR="6.6.6.6", REMOTE_ADDR="10.0.0.5")
    assert client_ip(request) == "10.0.0.5"


def test_it_takes_the_address_the_trusted_proxy_saw(settings):
    settings.PROXY_HOPS = 1
    forged_then_real = "6.6.6.6, 203.0.113.7"
    request = RequestFactory().get(
        "/", HTTP_X_FORWARDED_FOR=forged_then_real, REMOTE_ADDR="10.0.0.5"
    )
    assert client_ip(request) == "203.0.113.7"


def test_it_falls_back_when_the_header_is_short(settings):
    settings.PROXY_HOPS = 2
    request = RequestFactory().get("/", HTTP_X_FORWARDED_FOR="203.0.113.7", REMOTE_ADDR="10.0.0.5")
    assert client_ip(request) == "10.0.0.5"


# -- request ids: a client cannot choose what the audit trail records ---------------------------

OURS = re.compile(r"^[0-9a-f]{32}$")


def _audited_request(alice: Any, acme: Any, **headers: str) -> tuple[Any, AuditEvent]:
    """An audited change (make a second connection the default) sent with ``headers``."""
    make_connection(acme, alice, name="Main")
    branch = make_connection(acme, alice, name="Branch", entra_tenant_id=str(uuid.uuid4()))
    response = client_for(alice).post(
        reverse("providers:set_default", args=[acme.slug, branch.pk]), **headers
    )
    assert response.status_code == 302
    return response, AuditEvent.objects.latest("id")


def test_it_records_its_own_request_id_without_a_trusted_proxy(
    settings: Any, alice: Any, acme: Any
) -> None:
    settings.PROXY_HOPS = 0

    response, event = _audited_request(alice, acme, HTTP_X_REQUEST_ID="chosen-by-the-client-01")

    assert OURS.match(event.request_id)
    assert response["X-Request-Id"] == event.request_id
    assert response["X-Client-Request-Id"] == "chosen-by-the-client-01"


def test_it_records_the_request_id_of_a_trusted_proxy(settings: Any, alice: Any, acme: Any) -> None:
    settings.PROXY_HOPS = 1

    response, event = _audited_request(alice, acme, HTTP_X_REQUEST_ID="4f1c9e2ab7d34c0e9a8b")

    assert event.request_id == "4f1c9e2ab7d34c0e9a8b"
    assert response["X-Request-Id"] == "4f1c9e2ab7d34c0e9a8b"
    assert "X-Client-Request-Id" not in response


@pytest.mark.parametrize(
    "incoming",
    [
        "x" * 65,
        "short",
        "evil id with spaces",
        "id;<script>alert(1)</script>",
        "id\u00e9-not-ascii-0001",
        "../../etc/passwd-0001",
        "proxied-id-0001\n",
    ],
)
def test_it_never_records_a_malformed_request_id_even_from_a_proxy(
    incoming: str, settings: Any, alice: Any, acme: Any
) -> None:
    settings.PROXY_HOPS = 1

    response, event = _audited_request(alice, acme, HTTP_X_REQUEST_ID=incoming)

    assert OURS.match(event.request_id)
    assert response["X-Request-Id"] == event.request_id
    assert "X-Client-Request-Id" not in response


# -- the access log: one line per request --------------------------------------------------------


def _access_lines(caplog: Any) -> list[Any]:
    return [record for record in caplog.records if record.name == "tenantatlas.access"]


def test_it_logs_one_access_line_per_request_with_its_id_and_duration(
    client: Any, db: Any, caplog: Any
) -> None:
    with caplog.at_level("INFO", logger="tenantatlas.access"):
        response = client.get(
            "/healthz?next=/w/acme/&access_token=abcdef123456", REMOTE_ADDR="203.0.113.7"
        )

    [line] = _access_lines(caplog)
    request_id = response["X-Request-Id"]
    assert re.fullmatch(
        rf"GET /healthz 200 \d+\.\d ms request_id={request_id} ip=203\.0\.113\.7",
        line.getMessage(),
    )
    assert (line.method, line.path, line.status, line.request_id, line.client_ip) == (
        "GET",
        "/healthz",
        200,
        request_id,
        "203.0.113.7",
    )
    assert line.duration_ms >= 0
    assert "access_token" not in line.getMessage()


def test_it_never_logs_a_secret_that_travels_in_the_path(client: Any, db: Any, caplog: Any) -> None:
    token = "invitation-token-Qm9vdHN0cmFw-secret"
    with caplog.at_level("INFO", logger="tenantatlas.access"):
        client.get(f"/invitations/join/{token}/")

    [line] = _access_lines(caplog)
    assert line.path == "/invitations/join/[redacted]/"
    assert token not in line.getMessage()
