"""Who does something: a signed-in person, or the product itself.

Every service takes ``actor: Actor``. A person is a Django user; everything the product does on
its own (a schedule firing, the reaper, a run's completion, the demo seeding, a sign-in lockout,
a management command) names a :class:`SystemActor`, so "nobody" is always explicit and
authorization is never skipped by passing ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeGuard

if TYPE_CHECKING:  # Django's own model, not an app of this project
    # The project's user model (AUTH_USER_MODEL is not swapped): the model the ``created_by``,
    # ``user`` and ``actor`` foreign keys point at.
    from django.contrib.auth.models import AnonymousUser, User


@dataclass(frozen=True)
class SystemActor:
    """The product acting on its own; ``name`` says which part (for logs and debugging)."""

    name: str

    #: Every system action appears as "system" in the audit log (and its actor filter).
    label = "system"

    def __str__(self) -> str:
        return f"system ({self.name})" if self.name else "system"


SYSTEM = SystemActor("")
SCHEDULE = SystemActor("schedule")
REAPER = SystemActor("reaper")
RUN_COMPLETION = SystemActor("run completion")
DEMO = SystemActor("demo")
SIGN_IN = SystemActor("sign-in")
COMMAND = SystemActor("command")

type Actor = User | SystemActor


def is_user(actor: Actor | AnonymousUser | None) -> TypeGuard[User]:
    """True for a signed-in person (the one answer to "is it a real user?")."""
    return not isinstance(actor, SystemActor) and bool(getattr(actor, "is_authenticated", False))


def user_or_none(actor: Actor | None) -> User | None:
    """The person behind the action, for ``created_by``-style columns; None for the system."""
    return actor if is_user(actor) else None


def actor_label(actor: Actor | None) -> str:
    """How the audit log and runs name the actor: the username, or "system"."""
    if actor is None:
        return SYSTEM.label
    if isinstance(actor, SystemActor):
        return actor.label
    return str(actor.get_username())[:200]
