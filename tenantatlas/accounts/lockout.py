"""Sign-in lockout on top of django-axes: a limit per account and a higher one per client address.

Axes refuses a locked-out sign-in in its authentication backend, before ModelBackend hashes the
password. It compares one failure count with one limit (``AXES_FAILURE_LIMIT``); this handler
gives each lockout parameter its own limit (``settings.SIGN_IN_FAILURE_LIMITS``), logs every
failure and writes an audit event when a sign-in becomes locked.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_cool_off, get_lockout_parameters
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Sum
from django.http import HttpRequest

from tenantatlas.audit.services import record_event
from tenantatlas.lib.actors import SIGN_IN
from tenantatlas.lib.sanitize import sanitize
from tenantatlas.workspaces.models import Membership

log = logging.getLogger(__name__)

# How the audit metadata and the log name each lockout parameter.
PARAMETER_LABELS = {"username": "account", "ip_address": "address"}


def cool_off(request: HttpRequest | None = None) -> dt.timedelta:
    """How long a lockout lasts (``AXES_COOLOFF_TIME``)."""
    return get_cool_off(request) or dt.timedelta(0)


def cool_off_minutes(request: HttpRequest | None = None) -> int:
    return max(1, round(cool_off(request).total_seconds() / 60))


# django-axes ships no type information, so its handler is Any to mypy.
class SignInLockoutHandler(AxesDatabaseHandler):  # type: ignore[misc]
    """Axes' database handler with a failure limit per lockout parameter."""

    def remaining_attempts(
        self, request: HttpRequest, credentials: dict[str, Any] | None
    ) -> dict[str, int]:
        """Failures each lockout parameter still allows within the cool-off (0: locked)."""
        names = [
            parameter if isinstance(parameter, str) else "+".join(parameter)
            for parameter in get_lockout_parameters(request, credentials)
        ]
        attempts_per_parameter = self.get_user_attempts(request, credentials)
        remaining = {}
        for name, attempts in zip(names, attempts_per_parameter, strict=True):
            failures = attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0
            limit = settings.SIGN_IN_FAILURE_LIMITS.get(name, settings.AXES_FAILURE_LIMIT)
            remaining[name] = max(0, limit - failures)
        return remaining

    def get_failures(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> int:
        """The count axes compares with AXES_FAILURE_LIMIT: that limit less the fewest failures
        any parameter still allows, so it reaches the limit exactly when one parameter does."""
        return int(settings.AXES_FAILURE_LIMIT) - min(
            self.remaining_attempts(request, credentials).values()
        )

    def user_login_failed(
        self,
        sender: Any,
        credentials: dict[str, Any],
        request: HttpRequest | None = None,
        **kwargs: Any,
    ) -> None:
        # The axes backend marks a request it refused because a lockout is already in force.
        refused_while_locked = bool(getattr(request, "axes_locked_out", False))
        super().user_login_failed(sender, credentials, request, **kwargs)
        if request is None:
            return
        username = get_client_username(request, credentials) or ""
        address = request.axes_ip_address  # type: ignore[attr-defined]
        if refused_while_locked:
            log.warning("Sign-in refused while locked for %r from %s", sanitize(username), address)
        elif request.axes_locked_out:  # type: ignore[attr-defined]
            locked = [
                PARAMETER_LABELS.get(name, name)
                for name, left in self.remaining_attempts(request, credentials).items()
                if left == 0
            ]
            log.warning(
                "Sign-in locked for %r from %s: %s, for %d minutes",
                sanitize(username),
                address,
                ", ".join(locked),
                cool_off_minutes(request),
            )
            record_sign_in_lockout(username=username, locked=locked, request=request)
        else:
            log.info("Sign-in failed for %r from %s", sanitize(username), address)


@transaction.atomic
def record_sign_in_lockout(*, username: str, locked: list[str], request: HttpRequest) -> None:
    """Audit a new lockout in every workspace of the account it names (if that account exists);
    the client address and request id come from the request context, like every audit event."""
    users = get_user_model()._default_manager
    user = users.filter(**{users.model.USERNAME_FIELD: username}).first()
    if user is None:
        return
    memberships = Membership.objects.filter(user=user).select_related("workspace")
    for membership in memberships:
        record_event(
            workspace=membership.workspace,
            actor=SIGN_IN,
            action="account.sign_in_locked",
            target=user,
            metadata={"locked": locked, "cool_off_minutes": cool_off_minutes(request)},
        )


# -- the same lockout for Sign in with Microsoft ----------------------------------------------
# A Microsoft sign-in has no password to guess, but a refused callback (forged state, invalid
# token, an unlinked or disabled account) counts as a failed sign-in of the address and, when
# the account is known, of the account; a locked address or account is refused before the code
# is redeemed or the person signed in, exactly like a password sign-in.
UNIDENTIFIED = "microsoft:unidentified"


def microsoft_username(tenant_id: str = "", object_id: str = "") -> str:
    """The name a Microsoft failure is counted under when no local account is known: the
    Microsoft identity, or, when the answer names nobody, a name of its own, so the failure
    counts for the address only (one shared name would lock everyone's after five)."""
    if tenant_id:
        return f"microsoft:{tenant_id}/{object_id}"
    return f"{UNIDENTIFIED}:{secrets.token_hex(6)}"


def sign_in_allowed(request: HttpRequest, username: str) -> bool:
    """False while the address, or the named account, is locked."""
    from axes.handlers.proxy import AxesProxyHandler

    return bool(AxesProxyHandler.is_allowed(request, {"username": username}))


def address_locked(request: HttpRequest) -> bool:
    """True while the client address is locked (whatever the account)."""
    from axes.handlers.proxy import AxesProxyHandler

    AxesProxyHandler.update_request(request)
    handler = AxesProxyHandler.get_implementation()
    remaining = handler.remaining_attempts(request, {"username": UNIDENTIFIED})
    return bool(remaining.get("ip_address", 1) <= 0)


def count_failed_sign_in(request: HttpRequest, username: str) -> None:
    """Count one failed sign-in of the address and ``username`` (axes' own signal)."""
    from django.contrib.auth.signals import user_login_failed

    user_login_failed.send(sender=__name__, credentials={"username": username}, request=request)
