"""The embedded product: `serve` starts everything on one machine, `demo` seeds the demo workspace.

An entry point beside the API: it may use every app, and no app imports it.
"""

from __future__ import annotations

from django.apps import AppConfig


class EmbeddedConfig(AppConfig):
    name = "tenantatlas.embedded"
    label = "embedded"
    verbose_name = "Embedded start and demo data"
