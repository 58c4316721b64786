"""Two people press "Set as default" on different connections at the same moment.

The workspace row lock (PostgreSQL) or the IMMEDIATE write lock (SQLite) serialises them; the
partial unique index is the last line of defence. Either way exactly one default remains and
neither request fails. CI runs the suite on both databases, so each variant runs somewhere.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection, connections

from tenantatlas.audit.models import AuditEvent
from tenantatlas.providers.models import ProviderConnection
from tenantatlas.providers.services.defaults import set_default_connection
from tenantatlas.providers.tests.helpers import TENANT_A, TENANT_B, TENANT_C
from tenantatlas.testing import make_connection

ROUNDS = 20


def _race(alice: Any, workspace: Any) -> None:
    home = make_connection(workspace, alice, name="Home", entra_tenant_id=TENANT_A)
    left = make_connection(workspace, alice, name="Left", entra_tenant_id=TENANT_B)
    right = make_connection(workspace, alice, name="Right", entra_tenant_id=TENANT_C)

    for round_no in range(ROUNDS):
        set_default_connection(actor=alice, connection=home)
        events_before = AuditEvent.objects.filter(action="connection.default_set").count()
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def press(
            pk: int, barrier: threading.Barrier = barrier, errors: list[BaseException] = errors
        ) -> None:
            try:
                target = ProviderConnection.objects.get(pk=pk)
                barrier.wait(timeout=10)
                set_default_connection(actor=alice, connection=target)
            except BaseException as exc:
                errors.append(exc)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=press, args=(c.pk,)) for c in (left, right)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

        assert errors == [], f"round {round_no}: {errors!r}"
        winners = list(
            ProviderConnection.objects.for_workspace(workspace)
            .filter(is_default=True)
            .values_list("display_name", flat=True)
        )
        assert len(winners) == 1, f"round {round_no}: defaults {winners}"
        assert winners[0] in {"Left", "Right"}
        # both presses took effect one after the other: two default changes were audited
        assert (
            AuditEvent.objects.filter(action="connection.default_set").count() == events_before + 2
        )


@pytest.mark.postgres
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the PostgreSQL run of CI covers this"
)
@pytest.mark.django_db(transaction=True)
def test_it_keeps_exactly_one_default_when_two_set_default_race_on_postgresql(
    alice: Any, acme: Any
) -> None:
    _race(alice, acme)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the SQLite run of CI covers this")
@pytest.mark.django_db(transaction=True)
def test_it_keeps_exactly_one_default_when_two_set_default_race_on_sqlite(
    alice: Any, acme: Any
) -> None:
    _race(alice, acme)
