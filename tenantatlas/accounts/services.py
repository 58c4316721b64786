"""API tokens: create (plaintext returned once), revoke, and authenticate a bearer token.

A token reads ``ta_<prefix>_<secret>``: the prefix is public and indexed (it finds the row), the
whole string is hashed with SHA-256 for storage. The secret carries ~238 bits of entropy, so a
fast hash is enough: there is nothing to brute-force, unlike a password.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
import string
from collections.abc import Iterable

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from tenantatlas.accounts.models import ApiToken
from tenantatlas.audit.services import record_event
from tenantatlas.lib import dates
from tenantatlas.lib.actors import Actor, is_user, user_or_none
from tenantatlas.lib.errors import InvalidInput
from tenantatlas.workspaces.capabilities import (
    CAPABILITY_LABELS,
    WORKSPACE_MANAGE,
    can,
    capabilities_of,
)
from tenantatlas.workspaces.models import Membership

TOKEN_PREFIX = "ta"
PREFIX_LENGTH = 8
SECRET_LENGTH = 40
_PREFIX_ALPHABET = string.ascii_lowercase + string.digits
_SECRET_ALPHABET = string.ascii_letters + string.digits
TOKEN_PATTERN = re.compile(r"^ta_([a-z0-9]{8})_([A-Za-z0-9]{40})$")
# Writing last_used_at on every request would turn each API read into a write.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)
NAME_MAX_LENGTH = ApiToken._meta.get_field("name").max_length or 100


def hash_token(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def _random(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _validate_capabilities(member: Membership, capabilities: Iterable[str]) -> list[str]:
    wanted = sorted(set(capabilities))
    if not wanted:
        raise InvalidInput("Choose at least one capability.", field="capabilities")
    for capability in wanted:
        if capability not in CAPABILITY_LABELS:
            raise InvalidInput(f"Unknown capability {capability!r}.", field="capabilities")
        if not can(member, capability):
            raise InvalidInput(
                f"Your role does not include {capability}: a token cannot have more than you.",
                code="capability_not_held",
                field="capabilities",
            )
    return wanted


@transaction.atomic
def create_api_token(
    *,
    actor: Actor,
    member: Membership,
    name: str,
    capabilities: Iterable[str],
    expires_at: dt.datetime | None = None,
) -> tuple[ApiToken, str]:
    """Create a token for the member (the actor themself); returns (row, plaintext shown once)."""
    if not is_user(actor) or member.user_id != actor.pk:
        raise PermissionDenied("Tokens are created by the person they belong to.")
    name = (name or "").strip()
    if not name:
        raise InvalidInput("Give the token a name.", field="name")
    if len(name) > NAME_MAX_LENGTH:
        raise InvalidInput(f"Keep the name under {NAME_MAX_LENGTH} characters.", field="name")
    granted = _validate_capabilities(member, capabilities)
    problem = dates.expiry_problem(expires_at) if expires_at is not None else None
    if problem:
        raise InvalidInput(problem, field="expires_at")
    for _ in range(5):
        prefix = _random(_PREFIX_ALPHABET, PREFIX_LENGTH)
        plaintext = f"{TOKEN_PREFIX}_{prefix}_{_random(_SECRET_ALPHABET, SECRET_LENGTH)}"
        try:
            with transaction.atomic():
                token = ApiToken.objects.create(
                    workspace=member.workspace,
                    user=actor,
                    name=name,
                    prefix=prefix,
                    token_hash=hash_token(plaintext),
                    capabilities=granted,
                    expires_at=expires_at,
                )
            break
        except IntegrityError:  # a prefix collision: 36^8 makes this rare, never silent
            continue
    else:
        raise RuntimeError("Could not allocate a unique token prefix")
    record_event(
        workspace=member.workspace,
        actor=actor,
        action="api_token.created",
        target=token,
        metadata={
            "name": name,
            "prefix": prefix,
            "capabilities": granted,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    return token, plaintext


def can_revoke(member: Membership, token: ApiToken) -> bool:
    """The token's owner may revoke it; workspace.manage may revoke anyone's."""
    if token.workspace_id != member.workspace_id:
        return False
    if token.user_id == member.user_id:
        return True
    return can(member, WORKSPACE_MANAGE)


@transaction.atomic
def revoke_api_token(*, actor: Actor, token: ApiToken) -> ApiToken:
    """Revoke at once; revoking a revoked token changes nothing."""
    member = (
        Membership.objects.filter(workspace_id=token.workspace_id, user=actor).first()
        if is_user(actor)
        else None
    )
    if member is None or not can_revoke(member, token):
        raise PermissionDenied("Only the token's owner or a workspace manager may revoke it.")
    now = timezone.now()
    updated = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=now, revoked_by=user_or_none(actor)
    )
    token.refresh_from_db()
    if updated:
        record_event(
            workspace=token.workspace,
            actor=actor,
            action="api_token.revoked",
            target=token,
            metadata={"name": token.name, "prefix": token.prefix, "owner": token.user.username},
        )
    return token


def revoke_api_tokens_of(*, actor: Actor, membership: Membership, reason: str) -> int:
    """Revoke every live token of the member in the workspace (they are leaving it).

    Runs inside the caller's transaction, so the tokens go with the membership or not at all; a
    member who comes back later starts without tokens.
    """
    tokens = list(
        ApiToken.objects.for_workspace(membership.workspace)
        .filter(user_id=membership.user_id, revoked_at__isnull=True)
        .select_for_update()
    )
    ApiToken.objects.filter(pk__in=[t.pk for t in tokens]).update(
        revoked_at=timezone.now(), revoked_by=user_or_none(actor)
    )
    for token in tokens:
        record_event(
            workspace=membership.workspace,
            actor=actor,
            action="api_token.revoked",
            target=token,
            metadata={
                "name": token.name,
                "prefix": token.prefix,
                "owner": membership.user.username,
                "reason": reason,
            },
        )
    return len(tokens)


def authenticate_token(raw: str) -> tuple[ApiToken, Membership] | None:
    """The usable token and its owner's membership, narrowed to the token's capabilities.

    None for anything else: malformed, unknown, revoked, expired, a user who is inactive or no
    longer a member. The membership's capabilities are the intersection of the token's and the
    role's *today*, so lowering someone's role narrows their tokens at once.
    """
    match = TOKEN_PATTERN.match(raw or "")
    if match is None:
        return None
    token = (
        ApiToken.objects.usable()
        .select_related("user", "workspace")
        .filter(prefix=match.group(1))
        .first()
    )
    if token is None or not hmac.compare_digest(token.token_hash, hash_token(raw)):
        return None
    if not token.user.is_active:
        return None
    member = (
        Membership.objects.select_related("workspace", "user")
        .filter(workspace=token.workspace, user=token.user)
        .first()
    )
    if member is None:
        return None
    member.granted_capabilities = frozenset(token.capabilities) & capabilities_of(member.role)  # type: ignore[attr-defined]
    _touch(token)
    return token, member


def _touch(token: ApiToken) -> None:
    now = timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
        return
    ApiToken.objects.filter(pk=token.pk).exclude(
        last_used_at__gte=now - LAST_USED_RESOLUTION
    ).update(last_used_at=now)
    token.last_used_at = now
