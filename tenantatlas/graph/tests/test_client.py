"""GraphClient against a scripted transport: retries, paging, refresh, error mapping."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import stamina
import stamina.instrumentation

from tenantatlas.graph.client import GraphClient
from tenantatlas.graph.contracts import ContractParameterError, UnregisteredContract
from tenantatlas.graph.http import GraphSession
from tenantatlas.graph.recorder import RequestRecorder
from tenantatlas.graph.retry import RetryPolicy
from tenantatlas.graph.tests.fakes import (
    CLOUD,
    FakeClock,
    FakeTokens,
    ScriptedAdapter,
    graph_error,
    response,
)
from tenantatlas.lib.reasons import ProviderError, RetryLater
from tenantatlas.lib.sanitize import Redactor

NOW = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)
ORG = {"value": [{"id": "t1", "displayName": "Contoso"}]}
INTUNE_403 = json.dumps(
    {
        "_version": 3,
        "Message": "Application is not authorized to perform this operation. Application must "
        "have one of the following scopes: DeviceManagementManagedDevices.Read.All, "
        "DeviceManagementManagedDevices.ReadWrite.All - Operation ID (for customer support): "
        "00000000-0000-0000-0000-000000000000 - Activity ID: 1 - Url: https://fef.x/y",
        "CustomApiErrorPhrase": "",
    }
)


class Harness:
    def __init__(self, script: list, **kwargs) -> None:
        self.adapter = ScriptedAdapter(script)
        session = GraphSession(verify=True)
        session.mount("https://", self.adapter)
        self.clock = FakeClock()
        self.tokens = FakeTokens()
        self.recorder = RequestRecorder()
        self.redactor = Redactor()
        self.client = GraphClient(
            kwargs.pop("cloud", CLOUD),
            self.tokens,
            redactor=self.redactor,
            recorder=self.recorder,
            session=session,
            sleep=self.clock.sleep,
            now=self.clock.now,
            utcnow=lambda: NOW,
            timeout=5,
            max_attempts=kwargs.pop("max_attempts", 4),
            max_total_wait=kwargs.pop("max_total_wait", 120),
            max_inline_retry_after=kwargs.pop("max_inline_retry_after", 60),
            **kwargs,
        )

    @property
    def count(self) -> int:
        return len(self.adapter.requests)


def _error(harness: Harness, key: str = "organization.get") -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        harness.client.get(key)
    error = caught.value
    dumped = json.dumps([error.message, error.details, harness.recorder.summary()])
    assert "fake-access-token" not in dumped
    return error


def test_it_sends_a_registered_get_with_headers_and_default_select() -> None:
    h = Harness([response(200, ORG), response(200, ORG)])
    assert h.client.get("organization.get") == ORG
    h.client.get("organization.get")
    first, second = h.adapter.requests
    url = urlsplit(first.url)
    assert (url.scheme, url.netloc, url.path) == ("https", "graph.test", "/v1.0/organization")
    assert parse_qs(url.query)["$select"] == [
        "id,displayName,verifiedDomains,tenantType,countryLetterCode"
    ]
    assert first.method == "GET"
    assert first.headers["Authorization"] == "Bearer fake-access-token-0001"
    assert first.headers["Accept"] == "application/json"
    assert uuid.UUID(first.headers["client-request-id"])
    assert first.headers["client-request-id"] != second.headers["client-request-id"]
    assert h.adapter.send_kwargs[0]["timeout"] == 5


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [("2", 2.0), ("2.128", 2.128), (format_datetime(NOW + timedelta(seconds=7), usegmt=True), 7.0)],
)
def test_it_waits_exactly_what_retry_after_says(retry_after: str, expected: float) -> None:
    h = Harness(
        [graph_error(429, "TooManyRequests", **{"Retry-After": retry_after}), response(200, ORG)]
    )
    assert h.client.get("organization.get") == ORG
    assert h.clock.sleeps == [expected]
    summary = h.recorder.summary()
    assert summary["attempts"] == 2
    assert summary["retries"] == 1
    assert summary["recent"][0]["waits"] == [expected]
    assert summary["by_contract"]["organization.get"]["wait_seconds"] == expected


def test_it_backs_off_with_full_jitter_when_retry_after_is_absent() -> None:
    h = Harness([graph_error(503, "ServiceUnavailable")] * 3 + [response(200, ORG)])
    assert h.client.get("organization.get") == ORG
    policy = h.client.policy
    assert len(h.clock.sleeps) == 3
    for attempt, wait in enumerate(h.clock.sleeps, start=1):
        assert 0 <= wait <= policy.backoff_ceiling(attempt)
    assert [policy.backoff_ceiling(n) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]


def test_full_jitter_draws_from_zero_to_the_exponential_ceiling() -> None:
    calls: list[tuple[float, float]] = []
    policy = RetryPolicy(jitter=lambda low, high: calls.append((low, high)) or high)
    assert [policy.backoff(n) for n in (1, 2, 3, 10)] == [0.5, 1.0, 2.0, 30.0]
    assert calls[0] == (0.0, 0.5)


def test_exhausted_throttling_ends_as_graph_throttled_after_bounded_attempts() -> None:
    h = Harness([graph_error(429, "TooManyRequests", **{"Retry-After": "1"})] * 10)
    error = _error(h)
    assert error.reason_code == "graph.throttled"
    assert h.count == 4
    assert h.clock.sleeps == [1.0, 1.0, 1.0]
    assert error.details["attempts"] == 4
    assert error.details["graph_request_id"] == "rid-1"


def test_total_wait_is_bounded() -> None:
    h = Harness(
        [graph_error(429, "TooManyRequests", **{"Retry-After": "50"})] * 10, max_attempts=10
    )
    assert _error(h).reason_code == "graph.throttled"
    assert h.clock.sleeps == [50.0, 50.0]
    assert h.count == 3


def test_long_retry_after_reschedules_instead_of_blocking() -> None:
    h = Harness([graph_error(429, "TooManyRequests", **{"Retry-After": "300"})])
    with pytest.raises(RetryLater) as caught:
        h.client.get("organization.get")
    assert caught.value.retry_at == NOW + timedelta(seconds=300)
    assert caught.value.reason_code == "graph.throttled"
    assert h.clock.sleeps == []
    assert h.count == 1


@pytest.mark.parametrize(
    ("step", "reason"),
    [
        (lambda: graph_error(504, "GatewayTimeout"), "graph.unavailable"),
        (lambda: graph_error(502, "BadGateway"), "graph.unavailable"),
        (lambda: requests.ConnectionError("refused"), "graph.network_error"),
        (lambda: requests.ReadTimeout("slow"), "graph.timeout"),
    ],
)
def test_exhausted_transient_failures_map_to_reason_codes(step, reason: str) -> None:
    h = Harness([step() for _ in range(4)])
    assert _error(h).reason_code == reason
    assert h.count == 4


def test_401_refreshes_the_token_once_and_succeeds() -> None:
    h = Harness([graph_error(401, "InvalidAuthenticationToken"), response(200, ORG)])
    assert h.client.get("organization.get") == ORG
    assert h.tokens.forced == 1
    assert [r.headers["Authorization"][-4:] for r in h.adapter.requests] == ["0001", "0002"]


def test_401_after_refresh_is_graph_unauthorized() -> None:
    h = Harness([graph_error(401, "InvalidAuthenticationToken")] * 2)
    assert _error(h).reason_code == "graph.unauthorized"
    assert h.count == 2
    assert h.tokens.forced == 1


def test_intune_403_lists_the_permissions_it_needs() -> None:
    h = Harness([graph_error(403, "Forbidden", INTUNE_403)])
    error = _error(h, "device_overview.get")
    assert error.reason_code == "graph.permission_denied"
    assert error.details["required_permissions"] == [
        "DeviceManagementManagedDevices.Read.All",
        "DeviceManagementManagedDevices.ReadWrite.All",
    ]
    assert error.details["permissions_source"] == "graph"
    assert error.details["http_status"] == 403


def test_directory_403_falls_back_to_registry_permissions() -> None:
    h = Harness([graph_error(403, "Authorization_RequestDenied", "Insufficient privileges")])
    error = _error(h)
    assert error.reason_code == "graph.permission_denied"
    assert error.details["required_permissions"] == ["Organization.Read.All", "Directory.Read.All"]
    assert error.details["permissions_source"] == "registry"


@pytest.mark.parametrize(
    "resp",
    [
        graph_error(400, "BadRequest", "Request not applicable to target tenant."),
        graph_error(403, "Forbidden", '{"ErrorCode":"AppLifecycle_2210","Message":"x"}'),
    ],
)
def test_unlicensed_intune_is_license_missing(resp) -> None:
    assert _error(Harness([resp]), "compliance_summary.get").reason_code == "graph.license_missing"


def test_404_and_malformed_json() -> None:
    assert _error(Harness([graph_error(404, "ResourceNotFound")])).reason_code == "graph.not_found"
    bad = Harness([response(200, raw=b'{"value": [')] * 4)
    assert _error(bad).reason_code == "graph.invalid_response"
    not_object = Harness([response(200, raw=b"[1, 2]")] * 4)
    assert _error(not_object).reason_code == "graph.invalid_response"


TRUNCATED = b'{"value": [{"id": "1"}, {"id'


def test_it_retries_a_truncated_page_like_a_server_error() -> None:
    h = Harness([response(200, raw=TRUNCATED)] * 2 + [response(200, ORG)])
    assert h.client.get("organization.get") == ORG
    assert h.count == 3
    policy = h.client.policy
    assert len(h.clock.sleeps) == 2
    for attempt, wait in enumerate(h.clock.sleeps, start=1):
        assert 0 <= wait <= policy.backoff_ceiling(attempt)
    assert h.recorder.summary()["retries"] == 2


def test_it_retries_a_truncated_page_in_the_middle_of_paging() -> None:
    link2 = "https://graph.test/v1.0/deviceManagement/managedDevices?$skiptoken=abc"
    h = Harness(
        [
            response(200, {"value": [{"id": "1"}], "@odata.nextLink": link2}),
            response(200, raw=TRUNCATED),
            response(200, {"value": [{"id": "2"}]}),
        ]
    )
    assert list(h.client.iter_pages("devices.list")) == [[{"id": "1"}], [{"id": "2"}]]
    assert [r.url for r in h.adapter.requests[1:]] == [link2, link2]


def test_a_page_that_stays_malformed_ends_as_invalid_response_after_bounded_attempts() -> None:
    h = Harness([response(200, raw=TRUNCATED)] * 10)
    error = _error(h)
    assert error.reason_code == "graph.invalid_response"
    assert h.count == 4
    assert len(h.clock.sleeps) == 3
    assert error.details["attempts"] == 4
    assert "value" not in json.dumps(error.details)  # the body is never echoed


def test_a_malformed_page_shares_the_total_wait_budget() -> None:
    h = Harness([response(200, raw=TRUNCATED)] * 10, max_attempts=10, max_total_wait=1.0)
    h.client.policy = dataclasses.replace(h.client.policy, jitter=lambda low, high: high)
    assert _error(h).reason_code == "graph.invalid_response"
    assert h.clock.sleeps == [0.5]
    assert h.count == 2


def test_paging_follows_next_links_page_by_page() -> None:
    link2 = "https://graph.test/v1.0/deviceManagement/managedDevices?$top=2&$skiptoken=abc"
    link3 = "https://graph.test/v1.0/deviceManagement/managedDevices?$top=2&$skiptoken=def"
    h = Harness(
        [
            response(200, {"value": [{"id": "1"}, {"id": "2"}], "@odata.nextLink": link2}),
            response(200, {"value": [], "@odata.nextLink": link3}),
            response(200, {"value": [{"id": "3"}]}),
        ]
    )
    pages = h.client.iter_pages("devices.list", page_size=2)
    assert next(pages) == [{"id": "1"}, {"id": "2"}]
    assert h.count == 1  # lazily: the next page is fetched only when asked for
    assert list(pages) == [[], [{"id": "3"}]]
    assert parse_qs(urlsplit(h.adapter.requests[0].url).query)["$top"] == ["2"]
    assert h.adapter.requests[1].url == link2
    assert h.adapter.requests[2].url == link3


def _assert_refuses_the_next_link(h: Harness) -> None:
    """The first page comes back; the link to the next is refused before it is fetched."""
    pages = h.client.iter_pages("devices.list")
    assert next(pages) == [{"id": "1"}]
    with pytest.raises(ProviderError) as caught:
        next(pages)
    assert caught.value.reason_code == "graph.invalid_response"
    assert h.count == 1


def test_paging_refuses_a_next_link_to_another_host() -> None:
    evil = "https://attacker.example/v1.0/deviceManagement/managedDevices?$skiptoken=x"
    h = Harness([response(200, {"value": [{"id": "1"}], "@odata.nextLink": evil})])
    _assert_refuses_the_next_link(h)


UNDER_A_PATH = dataclasses.replace(CLOUD, graph_base_url="https://graph.test/graph")


@pytest.mark.parametrize(
    "link",
    [
        "https://graph.test/other-path/v1.0/deviceManagement/managedDevices?$skiptoken=x",
        "https://graph.test/graph/v1.0/../../admin/v1.0/deviceManagement/managedDevices",
        "https://graph.test/graph/v1.0/%2e%2e/%2E%2E/admin?$skiptoken=x",
        "https://graph.test/graph/v1.0%2F..%2F..%2Fadmin?$skiptoken=x",
        "https://graph.test/graphother/v1.0/deviceManagement/managedDevices",
        "https://graph.test/graph/beta/deviceManagement/managedDevices?$skiptoken=x",
        "http://graph.test/graph/v1.0/deviceManagement/managedDevices?$skiptoken=x",
        "https://graph.test:8443/graph/v1.0/deviceManagement/managedDevices?$skiptoken=x",
        "https://user@graph.test/graph/v1.0/deviceManagement/managedDevices?$skiptoken=x",
        "/graph/v1.0/deviceManagement/managedDevices?$skiptoken=x",
    ],
)
def test_paging_refuses_a_next_link_outside_the_graph_base_path(link: str) -> None:
    h = Harness(
        [response(200, {"value": [{"id": "1"}], "@odata.nextLink": link})], cloud=UNDER_A_PATH
    )
    _assert_refuses_the_next_link(h)


def test_paging_follows_a_next_link_under_the_graph_base_path() -> None:
    link = "https://graph.test/graph/v1.0/deviceManagement/managedDevices?$skiptoken=x"
    h = Harness(
        [
            response(200, {"value": [{"id": "1"}], "@odata.nextLink": link}),
            response(200, {"value": [{"id": "2"}]}),
        ],
        cloud=UNDER_A_PATH,
    )
    assert list(h.client.iter_pages("devices.list")) == [[{"id": "1"}], [{"id": "2"}]]
    assert urlsplit(h.adapter.requests[0].url).path == "/graph/v1.0/deviceManagement/managedDevices"
    assert h.adapter.requests[1].url == link


def test_unregistered_contract_is_refused_before_any_request() -> None:
    h = Harness([])
    with pytest.raises(UnregisteredContract):
        h.client.get("users.delete")
    with pytest.raises(UnregisteredContract):
        next(h.client.iter_pages("users.list"))
    with pytest.raises(ContractParameterError):
        h.client.get("devices.list", query={"$expand": "users"})
    with pytest.raises(ContractParameterError):
        next(h.client.iter_pages("organization.get"))
    assert h.count == 0
    assert h.tokens.issued == 0


def test_session_ignores_ca_bundle_environment_variables(monkeypatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/evil/ca.pem")
    monkeypatch.setenv("CURL_CA_BUNDLE", "/evil/ca.pem")
    adapter = ScriptedAdapter([response(200, ORG), response(200, ORG)])
    pinned = GraphSession(verify="/configured/ca.pem")
    pinned.mount("https://", adapter)
    pinned.get("https://graph.test/v1.0/organization")
    default = GraphSession()
    default.mount("https://", adapter)
    default.get("https://graph.test/v1.0/organization")
    assert [kw["verify"] for kw in adapter.send_kwargs] == ["/configured/ca.pem", True]


def test_retries_are_announced_to_stamina_instrumentation() -> None:
    seen: list = []
    stamina.instrumentation.set_on_retry_hooks([seen.append])
    try:
        h = Harness(
            [graph_error(429, "TooManyRequests", **{"Retry-After": "2"}), response(200, ORG)]
        )
        h.client.get("organization.get")
    finally:
        stamina.instrumentation.set_on_retry_hooks(None)
    (details,) = seen
    assert details.name == "tenantatlas.graph.organization.get"
    assert (details.retry_num, details.wait_for, details.waited_so_far) == (1, 2.0, 0.0)
    assert details.caused_by.reason_code == "graph.throttled"
    assert "fake-access-token" not in repr(details)


def test_stamina_switch_turns_graph_retries_off() -> None:
    stamina.set_active(False)
    try:
        h = Harness([graph_error(503, "ServiceUnavailable")] * 4)
        assert _error(h).reason_code == "graph.unavailable"
    finally:
        stamina.set_active(True)
    assert h.count == 1
    assert h.clock.sleeps == []


def test_intune_unknown_error_wrapping_forbidden_is_a_permission_problem() -> None:
    wrapped = '{"ErrorCode":"Forbidden","Message":"{\\"Message\\": \\"An error has occurred\\"}"}'
    h = Harness([graph_error(401, "UnknownError", wrapped)] * 2)
    error = _error(h, "devices.list")
    assert error.reason_code == "graph.permission_denied"
    assert error.details["required_permissions"][0] == "DeviceManagementManagedDevices.Read.All"
    assert h.tokens.forced == 1


def test_conditional_access_claims_challenge_is_blocked_by_policy() -> None:
    h = Harness([graph_error(403, "insufficient_claims", "Continuous access evaluation")])
    assert _error(h).reason_code == "auth.blocked_by_policy"


def test_long_retry_after_on_503_reschedules_as_unavailable() -> None:
    h = Harness([graph_error(503, "ServiceUnavailable", **{"Retry-After": "600"})])
    with pytest.raises(RetryLater) as caught:
        h.client.get("organization.get")
    assert caught.value.reason_code == "graph.unavailable"


def test_tls_failures_are_not_retried() -> None:
    h = Harness([requests.exceptions.SSLError("certificate verify failed")] * 4)
    error = _error(h)
    assert error.reason_code == "graph.network_error"
    assert h.count == 1
    assert error.details["graph_host"] == "graph.test"
