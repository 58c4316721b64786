"""Environment defaults of the test suite, set before Django reads its settings.

Loaded with ``-p tenantatlas.testing_env`` (pyproject.toml), so it runs before pytest-django
imports the settings. Only what must differ from the product's defaults is here:

- the shared Graph budget is off: its buckets outlive a test (they are rows or Redis keys,
  written on a connection of their own), so one test's 429 would hold the next test's tenant.
  The budget's own tests turn it on with fresh buckets (graph/tests/test_budget.py).
"""

from __future__ import annotations

import os

os.environ.setdefault("TENANTATLAS_GRAPH_BUDGET_STORE", "off")
