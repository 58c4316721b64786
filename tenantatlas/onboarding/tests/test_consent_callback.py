"""The consent callback: Microsoft's redirect completes the onboarding its state names, once."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from tenantatlas.audit.models import AuditEvent
from tenantatlas.onboarding.models import Onboarding, OnboardingStatus
from tenantatlas.onboarding.services import _state_of, cancel_onboarding, renew_onboarding_link
from tenantatlas.onboarding.tests.helpers import (
    CUSTOMER_TENANT,
    OTHER_TENANT,
    approved,
    callback_url,
    refused,
    start,
    state_of,
)
from tenantatlas.operations.models import OperationRun, RunStatus
from tenantatlas.providers.models import ProviderConnection
from tenantatlas.testing import client_for, make_connection


def _snapshot() -> tuple[Any, ...]:
    return (
        list(Onboarding.objects.values_list("pk", "status", "state_hash", "reason_code")),
        ProviderConnection.objects.count(),
        OperationRun.objects.count(),
    )


def test_approval_creates_the_connection_and_queues_its_check(alice: Any, acme: Any) -> None:
    onboarding = start(acme, alice, customer="Northwind Traders")

    response = Client().get(approved(onboarding))  # the customer's admin: no session here

    assert response.status_code == 200
    assert b'data-outcome="connected"' in response.content
    onboarding.refresh_from_db()
    assert onboarding.status == OnboardingStatus.COMPLETED
    connection = onboarding.connection
    assert connection is not None
    assert str(connection.entra_tenant_id) == CUSTOMER_TENANT
    assert connection.display_name == "Northwind Traders"
    assert connection.partner_app_id == onboarding.partner_app_id
    assert connection.workspace_id == acme.pk
    run = OperationRun.objects.get(connection=connection)
    assert run.operation_type == "provider.health_check"
    assert run.status == RunStatus.QUEUED
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"onboarding.completed", "connection.created", "operation.started"} <= actions


def test_a_replayed_state_is_refused_and_changes_nothing(alice: Any, acme: Any) -> None:
    onboarding = start(acme, alice)
    url = approved(onboarding)
    Client().get(url)
    before = _snapshot()

    response = Client().get(url)

    assert response.status_code == 400
    assert b"consent.link_used" in response.content
    assert _snapshot() == before
    assert AuditEvent.objects.filter(action="onboarding.callback_refused").count() == 1


@pytest.mark.parametrize(
    "state",
    ["", "0" * 64, "forged-state", "a" * 500],
    ids=["missing", "zeros", "short", "long"],
)
def test_a_forged_state_is_refused_with_a_clear_page(alice: Any, acme: Any, state: str) -> None:
    start(acme, alice)
    before = _snapshot()

    response = Client().get(callback_url(tenant=CUSTOMER_TENANT, admin_consent="True", state=state))

    assert response.status_code == 400
    assert b"Link not valid" in response.content
    assert _snapshot() == before


def test_the_old_link_of_a_renewed_onboarding_is_dead(alice: Any, acme: Any) -> None:
    onboarding = start(acme, alice)
    old_url = approved(onboarding)
    renewed = renew_onboarding_link(actor=alice, onboarding=onboarding)
    before = _snapshot()

    response = Client().get(old_url)

    assert response.status_code == 400
    assert _snapshot() == before
    assert Client().get(approved(renewed)).status_code == 200


def test_an_expired_link_ends_the_onboarding_as_expired(alice: Any, acme: Any) -> None:
    onboarding = start(acme, alice)
    Onboarding.objects.filter(pk=onboarding.pk).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )

    response = Client().get(approved(onboarding))

    assert response.status_code == 400
    assert b"consent.link_expired" in response.content
    onboarding.refresh_from_db()
    assert onboarding.status == OnboardingStatus.EXPIRED
    assert not ProviderConnection.objects.exists()
    assert AuditEvent.objects.filter(action="onboarding.expired").exists()


def test_a_cancelled_onboardings_link_is_refused(alice: Any, acme: Any) -> None:
    onboarding = start(acme, alice)
    url = approved(onboarding)
    cancel_onboarding(actor=alice, onboarding=onboarding)
    before = _snapshot()

    response = Client().get(url)

    assert response.status_code == 400
    assert b"consent.link_cancelled" in response.content
    assert _snapshot() == before


def test_a_state_bound_to_another_workspace_is_refused(
    alice: Any, acme: Any, globex: Any, mallory: Any
) -> None:
    """A state is an HMAC over the workspace: the same nonce under another workspace is dead."""
    mine = start(acme, alice)
    forged = _state_of(globex.pk, mine.state_nonce)
    before = _snapshot()

    response = client_for(mallory).get(
        callback_url(tenant=CUSTOMER_TENANT, admin_consent="True", state=forged)
    )

    assert response.status_code == 400
    assert _snapshot() == before
    assert b"Acme" not in response.content


@pytest.mark.parametrize(
    ("error", "description", "status", "code"),
    [
        (
            "access_denied",
            "AADSTS65004: User declined to consent to access the app.\r\nTrace ID: x",
            OnboardingStatus.DECLINED,
            "consent.declined",
        ),
        (
            "access_denied",
            "AADSTS90094: Admin consent is required for the permissions requested.",
            OnboardingStatus.FAILED,
            "consent.admin_approval_required",
        ),
        ("access_denied", "", OnboardingStatus.DECLINED, "consent.declined"),
        (
            "invalid_request",
            "AADSTS900971: No reply address provided.",
            OnboardingStatus.FAILED,
            "consent.failed",
        ),
    ],
)
def test_microsofts_refusals_end_with_a_reason_and_remediation(
    alice: Any, acme: Any, error: str, description: str, status: str, code: str
) -> None:
    onboarding = start(acme, alice)

    response = Client().get(refused(onboarding, error, description))

    assert response.status_code == 200
    assert code.encode() in response.content
    onboarding.refresh_from_db()
    assert onboarding.status == status
    assert onboarding.reason_code == code
    assert "Trace ID" not in onboarding.reason_message
    assert not ProviderConnection.objects.exists()
    event = AuditEvent.objects.get(action=f"onboarding.{status}")
    assert event.metadata["reason_code"] == code


def test_consent_in_another_tenant_than_named_is_not_connected(alice: Any, acme: Any) -> None:
    onboarding = start(acme, alice, hint=CUSTOMER_TENANT)

    response = Client().get(approved(onboarding, tenant=OTHER_TENANT))

    assert b"consent.wrong_tenant" in response.content
    onboarding.refresh_from_db()
    assert onboarding.status == OnboardingStatus.FAILED
    assert str(onboarding.entra_tenant_id) == OTHER_TENANT
    assert not ProviderConnection.objects.exists()


def test_a_tenant_already_connected_is_said_clearly(alice: Any, acme: Any) -> None:
    make_connection(acme, alice, entra_tenant_id=CUSTOMER_TENANT)
    onboarding = start(acme, alice)

    response = Client().get(approved(onboarding))

    assert b"consent.tenant_already_connected" in response.content
    onboarding.refresh_from_db()
    assert onboarding.status == OnboardingStatus.FAILED
    assert ProviderConnection.objects.count() == 1


@pytest.mark.parametrize(
    "params",
    [
        {"tenant": CUSTOMER_TENANT},
        {"admin_consent": "True"},
        {"admin_consent": "True", "tenant": "x"},
    ],
)
def test_an_incomplete_answer_is_not_a_connection(
    alice: Any, acme: Any, params: dict[str, str]
) -> None:
    onboarding = start(acme, alice)

    Client().get(callback_url(state=state_of(onboarding), **params))

    onboarding.refresh_from_db()
    assert onboarding.reason_code == "consent.invalid_response"
    assert not ProviderConnection.objects.exists()
