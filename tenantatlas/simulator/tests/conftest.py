"""The simulator's own tests use no database (it keeps its state in memory): the SQLite pass of
CI runs them, the PostgreSQL pass skips them (``one_pass``, tenantatlas/testing.py). A test here
that asks for the database is left to both passes."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent
_DATABASE_FIXTURES = {"db", "transactional_db", "django_db_setup", "live_server"}


@pytest.hookimpl(tryfirst=True)  # before tenantatlas.testing's hook reads the marker
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if not item.path.is_relative_to(HERE):
            continue  # the hook sees the whole session's tests
        uses_database = item.get_closest_marker("django_db") is not None or bool(
            _DATABASE_FIXTURES & set(getattr(item, "fixturenames", ()))
        )
        if not uses_database:
            item.add_marker(pytest.mark.one_pass)
