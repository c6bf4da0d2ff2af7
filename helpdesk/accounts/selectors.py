"""Reads for accounts: authenticate API keys, a user's tenants."""

from __future__ import annotations

from django.db.models import QuerySet
from django.db.models.functions import Lower

from helpdesk.accounts import tokens
from helpdesk.accounts.models import ApiToken, User
from helpdesk.tenancy.models import Membership


def users_with_email(email: str) -> QuerySet[User]:
    """Users with this address regardless of case, through the unique index on lower(email)
    (`iexact` compares upper() and reads every user of the installation)."""
    return User.objects.alias(email_key=Lower("email")).filter(email_key=email.strip().lower())


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


def get_seat(membership_id: object) -> Membership:
    """A seat of the current tenant, active or not. Raises MemberNotFound."""
    from helpdesk.tenancy.errors import MemberNotFound

    seat = list_team().filter(id=membership_id).first()
    if seat is None:
        raise MemberNotFound(member_id=str(membership_id))
    return seat
