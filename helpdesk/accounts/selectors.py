"""Reads for accounts: authenticate API keys, a user's tenants, the team, invitations."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.core import signing
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from helpdesk.accounts import tokens
from helpdesk.accounts.errors import InvitationNotFound
from helpdesk.accounts.models import ApiToken, Invitation, InvitationStatus, User
from helpdesk.tenancy.models import Membership


def users_with_email(email: str) -> QuerySet[User]:
    """Users with this address regardless of case, through the unique index on lower(email)
    (`iexact` compares upper() and reads every user of the installation)."""
    return User.objects.alias(email_key=Lower("email")).filter(email_key=email.strip().lower())


def find_user(user_id: str) -> User | None:
    """The login with this id, or None (also for an id that is not a UUID)."""
    try:
        return User.objects.filter(pk=UUID(user_id)).first()
    except ValueError:
        return None


def find_api_token(key: str) -> ApiToken | None:
    """The live token with this key, with its user, or None."""
    return (
        ApiToken.objects.select_related("user")
        .filter(key_hash=tokens.hash_key(key), revoked_at__isnull=True, user__is_active=True)
        .first()
    )


def list_user_memberships(user: User) -> QuerySet[Membership]:
    """Every active seat of the user, with its tenant, for the tenant switcher."""
    return (
        Membership.objects.filter(user=user, is_active=True, tenant__is_active=True)
        .select_related("tenant")
        .order_by("tenant__name")
    )


def list_member_tokens(membership: Membership) -> QuerySet[ApiToken]:
    return (
        ApiToken.objects.in_current_tenant()
        .filter(user_id=membership.user_id, revoked_at__isnull=True)
        .order_by("-created_at")
    )


def list_team() -> QuerySet[Membership]:
    """Every seat of the current tenant, deactivated ones last, with their users."""
    return (
        Membership.objects.in_current_tenant()
        .select_related("user")
        .order_by("-is_active", "user__name", "user__email")
    )


def get_seat(membership_id: UUID | str) -> Membership:
    """A seat of the current tenant, active or not. Raises MemberNotFound."""
    from helpdesk.tenancy.errors import MemberNotFound

    seat = list_team().filter(id=membership_id).first()
    if seat is None:
        raise MemberNotFound(member_id=str(membership_id))
    return seat


INVITATION_SALT = "helpdesk.accounts.invitation"


def list_pending_invitations() -> QuerySet[Invitation]:
    """The current tenant's invitations nobody has accepted or revoked yet, newest first."""
    return Invitation.objects.filter(status=InvitationStatus.PENDING).order_by("-id")


def get_invitation(invitation_id: UUID | str) -> Invitation:
    """An invitation of the current tenant, in any state. Raises InvitationNotFound."""
    try:
        invitation = Invitation.objects.filter(id=invitation_id).first()
    except (ValueError, TypeError, ValidationError):
        invitation = None
    if invitation is None:
        raise InvitationNotFound(invitation_id=str(invitation_id))
    return invitation


def invitation_token(invitation: Invitation) -> str:
    """The signed secret of the invitation's accept link; a resend changes the nonce."""
    return signing.dumps({"i": str(invitation.id), "n": invitation.nonce}, salt=INVITATION_SALT)


def find_invitation_for_token(token: str) -> Invitation | None:
    """The pending, unexpired invitation of the current tenant that this link token is
    for; None for a forged, replaced, used, revoked, expired or other tenant's link."""
    try:
        data: Any = signing.loads(token, salt=INVITATION_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("n"), str):
        return None
    invitation_id = data.get("i")
    if invitation_id is None:
        return None
    try:
        invitation = list_pending_invitations().filter(id=invitation_id).first()
    except (ValueError, TypeError, ValidationError):
        return None
    if invitation is None or not constant_time_compare(invitation.nonce, data["n"]):
        return None
    if invitation.is_expired(timezone.now()):
        return None
    return invitation
