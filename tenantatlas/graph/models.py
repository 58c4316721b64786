"""The Graph app's one table: the shared buckets of the Graph budget (``graph/budget.py``)."""

from __future__ import annotations

from django.db import models


class GraphBudgetBucket(models.Model):
    """One token bucket of the Graph budget, shared by every worker using the database store."""

    # "<cloud>/<client id>" (the app across tenants) or "<cloud>/<client id>/<tenant id>".
    key = models.CharField(primary_key=True, max_length=200)
    # Tokens left when counted; negative while requests wait for reserved turns.
    tokens = models.FloatField()
    # When the tokens were counted (seconds since the epoch on the store's clock); in the future
    # while a 429's Retry-After blocks the bucket.
    counted_at = models.FloatField()
    # The share of the full rate the bucket refills at: halved by a 429, then climbing back.
    factor = models.FloatField(default=1.0)

    class Meta:
        db_table = "graph_budget_bucket"

    def __str__(self) -> str:
        return self.key
