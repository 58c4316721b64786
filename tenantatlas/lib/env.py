"""Typed environment helpers that fail loudly on bad values."""

from __future__ import annotations

import os
import re
from pathlib import Path


class EnvError(ValueError):
    """An environment variable holds a value the application cannot use."""


def envraw(name: str) -> str | None:
    """The value of NAME, or the contents of the file named by NAME_FILE."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise EnvError(f"{name}_FILE={path!r} cannot be read: {exc.strerror}") from exc
    return os.environ.get(name)


def envstr(name: str, default: str = "") -> str:
    value = envraw(name)
    return default if value is None or value == "" else value


def envbool(name: str, default: bool = False) -> bool:
    value = envraw(name)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise EnvError(f"{name}={value!r} is not a boolean (use true/false)")


def envint(name: str, default: int) -> int:
    value = envraw(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise EnvError(f"{name}={value!r} is not an integer") from None


def envfloat(name: str, default: float) -> float:
    value = envraw(name)
    if value is None or value == "":
        return default
    try:
        return float(value)
    except ValueError:
        raise EnvError(f"{name}={value!r} is not a number") from None


def envlist(name: str, default: list[str] | None = None) -> list[str]:
    """Items separated by commas or whitespace (so a *_FILE may hold one item per line)."""
    value = envraw(name)
    if value is None or value.strip() == "":
        return list(default or [])
    return [item for item in re.split(r"[,\s]+", value) if item]
