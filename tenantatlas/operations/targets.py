"""What the run framework needs from the thing a run acts on: a provider connection.

The operations app never imports the providers app. A connection is reached through the run's
(or schedule's) foreign key, declared as the string "providers.ProviderConnection", and typed
by RunTarget: only what starting, scoping and scheduling a run read.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Protocol, cast

from django.db import models

from tenantatlas.operations.models import OperationRun
from tenantatlas.workspaces.models import Workspace


class RunTarget(Protocol):
    @property
    def pk(self) -> Any: ...

    @property
    def workspace(self) -> Workspace: ...

    @property
    def workspace_id(self) -> int: ...

    @property
    def provider(self) -> str: ...

    @property
    def entra_tenant_id(self) -> uuid.UUID: ...

    @property
    def display_name(self) -> str: ...

    @property
    def deleted_at(self) -> dt.datetime | None: ...

    @property
    def is_enabled(self) -> bool: ...


def fresh_target(target: RunTarget) -> RunTarget:
    """The target re-read from the database (inside the start gate's lock)."""
    model = OperationRun._meta.get_field("connection").related_model
    assert isinstance(model, type)  # a model class, not "self"
    return cast(RunTarget, model._default_manager.get(pk=target.pk))


def as_model(target: RunTarget) -> models.Model:
    """The target as the model row it is (for an audit event's target)."""
    assert isinstance(target, models.Model)  # only model rows are targets
    return target
