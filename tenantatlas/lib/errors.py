"""Refusals: a rule of the product says no. Views show the message, the API answers 409/400."""

from __future__ import annotations

from typing import Any


class Refused(Exception):
    """A request that breaks a product rule; `message` is safe to show to the user."""

    status = 409

    def __init__(self, message: str, *, code: str = "refused", **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.details = details


class InvalidInput(Refused):
    """Input that fails validation; nothing was changed."""

    status = 400

    def __init__(self, message: str, *, code: str = "invalid", field: str | None = None) -> None:
        super().__init__(message, code=code, field=field)
        self.field = field
