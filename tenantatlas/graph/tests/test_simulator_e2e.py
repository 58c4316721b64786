"""End to end against the simulator: credentials, Retry-After forms, every contract, paging.

Real MSAL and real HTTPS, no mocks of our client.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tracemalloc

import pytest

from tenantatlas.graph.auth import ClientCredential, TokenProvider
from tenantatlas.graph.clouds import get_cloud
from tenantatlas.graph.contracts import UnregisteredContract
from tenantatlas.graph.tests.simulated import (
    ALL_ROLES,
    CERT_PEM,
    CLIENT_ID,
    KEY_PEM,
    Setup,
    connect,
    org,
    simulator_cloud,
)
from tenantatlas.lib.reasons import RetryLater
from tenantatlas.lib.sanitize import Redactor
from tenantatlas.simulator.scenarios import Faults, ThrottleFault
from tenantatlas.simulator.server import SimulatorServer


def test_long_retry_after_reschedules(simulator: SimulatorServer) -> None:
    faults = Faults(throttle=ThrottleFault(count=5, retry_after="http-date:3600"))
    run = connect(simulator, Setup(tenant={"faults": faults}))
    with pytest.raises(RetryLater) as caught:
        org(run)
    assert caught.value.retry_at is not None
    expected = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=3600)
    assert abs((caught.value.retry_at - expected).total_seconds()) < 5
    assert run.sleeps == []


@pytest.mark.parametrize(
    ("retry_after", "low", "high"),
    [("2", 2, 2), ("2.128", 2.128, 2.128), ("http-date:4", 2.0, 4.0)],
)
def test_retry_after_forms_are_honoured_over_the_wire(
    simulator: SimulatorServer, retry_after: str, low: float, high: float
) -> None:
    faults = Faults(throttle=ThrottleFault(count=1, retry_after=retry_after))
    run = connect(simulator, Setup(tenant={"faults": faults}))
    assert org(run)
    (wait,) = run.sleeps
    assert low <= wait <= high
    assert run.recorder.summary()["retries"] == 1


@pytest.mark.parametrize("signing", ["PS256", "RS256"])
def test_certificate_credentials_in_both_forms(simulator: SimulatorServer, signing: str) -> None:
    credential = ClientCredential(CLIENT_ID, private_key_pem=KEY_PEM, certificate_pem=CERT_PEM)
    setup = Setup(credential=credential)
    simulator.add_tenant(setup.scenario())
    provider = TokenProvider(
        simulator_cloud(simulator),
        setup.tenant_id,
        credential,
        redactor=Redactor(),
        certificate_signing=signing,  # type: ignore[arg-type]
    )
    assert provider.get_token().roles == ALL_ROLES


def test_every_contract_works_against_the_simulator(simulator: SimulatorServer, settings) -> None:
    settings.SIMULATOR_URL = simulator.base_url
    settings.SIMULATOR_CA_BUNDLE = str(simulator.ca_bundle)
    setup = Setup(tenant={"device_count": 2500})
    run = connect(simulator, setup, cloud=get_cloud("simulator"))
    organization = run.client.get("organization.get")
    assert organization["value"][0]["id"] == setup.tenant_id
    assert "compliantDeviceCount" in run.client.get("compliance_summary.get")
    assert "enrolledDeviceCount" in run.client.get("device_overview.get")
    for key in (
        "compliance_policies.list",
        "device_configurations.list",
        "configuration_policies.list",
        "mobile_apps.list",
    ):
        assert sum(len(page) for page in run.client.iter_pages(key)) > 0, key
    pages = list(run.client.iter_pages("devices.list", page_size=999))
    assert [len(page) for page in pages] == [999, 999, 502]
    summary = run.recorder.summary()
    assert summary["requests"] == 10
    assert all(r["request_id"] for r in summary["recent"])


def test_unregistered_contract_never_reaches_the_simulator(simulator: SimulatorServer) -> None:
    run = connect(simulator, Setup())
    simulator.clear_requests()
    with pytest.raises(UnregisteredContract):
        run.client.get("users.list")
    with pytest.raises(UnregisteredContract):
        next(run.client.iter_pages("servicePrincipals.delete"))
    assert simulator.requests == []


@pytest.mark.slow
@pytest.mark.one_pass
def test_paging_a_250k_device_tenant_is_complete_and_memory_flat(
    simulator: SimulatorServer,
) -> None:
    total = 250_000
    run = connect(simulator, Setup(tenant={"device_count": total}))
    run.provider.get_token()
    # Ids go into a preallocated buffer (16-byte digests), so the test's own bookkeeping does
    # not grow while memory is measured; uniqueness is checked after measuring.
    digests = bytearray(16 * total)
    seen = 0
    samples: list[int] = []
    tracemalloc.start()
    try:
        for page in run.client.iter_pages("devices.list", query={"$select": "id"}):
            for item in page:
                offset = 16 * seen
                digests[offset : offset + 16] = hashlib.blake2b(
                    item["id"].encode(), digest_size=16
                ).digest()
                seen += 1
            del page
            samples.append(tracemalloc.get_traced_memory()[0])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert seen == total
    unique = {bytes(digests[i : i + 16]) for i in range(0, len(digests), 16)}
    assert len(unique) == total
    assert len(samples) >= 250
    # Flat: memory after the last pages is within 5 MB of memory after the first ones, and
    # the peak (one page in flight, client and in-process server together) stays small.
    assert samples[-1] - samples[10] < 5 * 2**20, (samples[10], samples[-1])
    assert peak < 64 * 2**20, peak
