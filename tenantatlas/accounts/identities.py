"""Microsoft identities of local accounts: who a validated id token signs in as, linking and
unlinking (audited), and the break-glass sign-in link for an installation without passwords.

A person is matched by the token's tenant id + object id only, never by e-mail or user name
(mutable and not verified, facts §8.4). A Microsoft account signs in only once its owner linked
it while signed in to their local account: there is no matching by address and no automatic
account creation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes, force_str
from django.utils.http import base36_to_int, urlsafe_base64_decode, urlsafe_base64_encode

from tenantatlas.accounts.models import MicrosoftIdentity
from tenantatlas.audit.services import record_event
from tenantatlas.graph.signin import VerifiedIdentity
from tenantatlas.lib.actors import Actor
from tenantatlas.lib.errors import Refused
from tenantatlas.workspaces.models import Membership

if TYPE_CHECKING:
    from django.contrib.auth.models import User

BREAK_GLASS_SECONDS = 15 * 60


class SignInRefused(Exception):
    """Microsoft vouched for the person, but they may not sign in (or link) here."""

    def __init__(self, code: str, **details: Any) -> None:
        super().__init__(code)
        self.code = code
        self.details = details


def _audit_everywhere(
    user: User, *, actor: Actor, action: str, target: Any, **metadata: Any
) -> None:
    """Account events belong to no workspace: each workspace of the person gets the entry."""
    for membership in Membership.objects.filter(user=user).select_related("workspace"):
        record_event(
            workspace=membership.workspace,
            actor=actor,
            action=action,
            target=target,
            metadata=metadata,
        )


def _describe(identity: MicrosoftIdentity) -> dict[str, str]:
    return {
        "tenant_id": identity.tenant_id,
        "object_id": identity.object_id,
        "microsoft_username": identity.username,
    }


def user_for_identity(verified: VerifiedIdentity) -> User:
    """The active local account this Microsoft account signs in as, or SignInRefused
    (``unknown_identity``, ``account_removed``, ``account_disabled``)."""
    identity = (
        MicrosoftIdentity.objects.select_related("user")
        .filter(tenant_id=verified.tenant_id, object_id=verified.object_id)
        .first()
    )
    if identity is None:
        raise SignInRefused("unknown_identity")
    if identity.user is None:
        raise SignInRefused("account_removed")
    if not identity.user.is_active:
        raise SignInRefused("account_disabled", username=identity.user.get_username())
    return identity.user


def note_microsoft_sign_in(verified: VerifiedIdentity) -> None:
    """Remember when the identity last signed in and how Microsoft names it now (not audited,
    like a password sign-in)."""
    MicrosoftIdentity.objects.filter(
        tenant_id=verified.tenant_id, object_id=verified.object_id
    ).update(
        last_sign_in_at=timezone.now(),
        display_name=verified.name,
        username=verified.username,
    )


@transaction.atomic
def link_microsoft_identity(*, actor: User, verified: VerifiedIdentity) -> MicrosoftIdentity:
    """Link the Microsoft account the actor just signed in with to their own account.

    Linking one's own again changes nothing; an identity whose account was removed is taken
    over; one linked to someone else is refused (``already_linked``).
    """
    now = timezone.now()
    identity = (
        MicrosoftIdentity.objects.select_for_update()
        .filter(tenant_id=verified.tenant_id, object_id=verified.object_id)
        .first()
    )
    if identity is not None and identity.user_id == actor.pk:
        return identity
    if identity is not None and identity.user_id is not None:
        raise SignInRefused("already_linked")
    values = {"display_name": verified.name, "username": verified.username, "linked_at": now}
    if identity is None:
        try:
            with transaction.atomic():
                identity = MicrosoftIdentity.objects.create(
                    user=actor,
                    tenant_id=verified.tenant_id,
                    object_id=verified.object_id,
                    **values,
                )
        except IntegrityError:  # linked by someone else in the same instant
            raise SignInRefused("already_linked") from None
    else:
        MicrosoftIdentity.objects.filter(pk=identity.pk).update(user=actor, **values)
        identity.refresh_from_db()
    _audit_everywhere(
        actor,
        actor=actor,
        action="account.microsoft_linked",
        target=identity,
        **_describe(identity),
    )
    return identity


@transaction.atomic
def unlink_microsoft_identity(*, actor: User, identity: MicrosoftIdentity) -> None:
    """Unlink one of the actor's Microsoft accounts; without passwords, not the last one."""
    if identity.user_id != actor.pk:
        raise Refused("This Microsoft account is not linked to your account.")
    others = MicrosoftIdentity.objects.filter(user=actor).exclude(pk=identity.pk)
    if not settings.PASSWORD_SIGN_IN and not others.exists():
        raise Refused(
            "Password sign-in is turned off here: this is your only way to sign in, so it stays "
            "linked. Link another Microsoft account first.",
            code="last_sign_in_method",
        )
    metadata = _describe(identity)
    _audit_everywhere(
        actor, actor=actor, action="account.microsoft_unlinked", target=identity, **metadata
    )
    identity.delete()


# -- break glass ------------------------------------------------------------------------------


class BreakGlassTokens(PasswordResetTokenGenerator):
    """Single-use sign-in links: the hash covers the last sign-in time, so signing in spends
    the link; valid for BREAK_GLASS_SECONDS."""

    key_salt = "tenantatlas.accounts.break_glass"

    def check_token(self, user: Any, token: str | None) -> bool:
        try:
            issued = base36_to_int((token or "").split("-")[0])
        except ValueError:
            return False
        if self._num_seconds(self._now()) - issued > BREAK_GLASS_SECONDS:
            return False
        return super().check_token(user, token)


break_glass_tokens = BreakGlassTokens()


@transaction.atomic
def issue_break_glass_link(*, actor: Actor, user: User) -> str:
    """The path of a single-use, 15-minute sign-in link for ``user`` (audited)."""
    if not user.is_active:
        raise Refused(f"The account {user.get_username()} is disabled.")
    path = reverse(
        "accounts:break_glass",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": break_glass_tokens.make_token(user),
        },
    )
    _audit_everywhere(user, actor=actor, action="account.break_glass_issued", target=user)
    return path


def user_for_break_glass(uidb64: str, token: str) -> User | None:
    """The account a break-glass link signs in as, while it is unused and fresh."""
    try:
        pk = int(force_str(urlsafe_base64_decode(uidb64)))
    except (TypeError, ValueError, OverflowError):
        return None
    user = get_user_model()._default_manager.filter(pk=pk, is_active=True).first()
    if user is None or not break_glass_tokens.check_token(user, token):
        return None
    return user


def record_break_glass_sign_in(user: User) -> None:
    _audit_everywhere(user, actor=user, action="account.break_glass_used", target=user)
