"""Accounts: one user per email address; a token belongs to one member of one tenant."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from helpdesk.accounts import selectors, tokens
from helpdesk.accounts.models import ApiToken, User
from helpdesk.tenancy.models import Membership, MembershipRole, Tenant


@transaction.atomic
def get_or_create_user(*, email: str, name: str = "", password: str | None = None) -> User:
    """The user with this email (case-insensitive), created when missing.

    An existing user's password is never changed here.
    """
    user = selectors.users_with_email(email).first()
    if user is None:
        user = User.objects.create_user(email=email.strip(), password=password, name=name)
    return user


@transaction.atomic
def add_member(*, tenant: Tenant, user: User, role: str = MembershipRole.AGENT) -> Membership:
    """Give the user a seat in the tenant with the role (updating the role if seated)."""
    membership, created = Membership.objects.get_or_create(
        tenant=tenant, user=user, defaults={"role": role}
    )
    if not created and (membership.role != role or not membership.is_active):
        membership.role = role
        membership.is_active = True
        membership.save(update_fields=["role", "is_active", "updated_at"])
    return membership


@transaction.atomic
def create_api_token(*, membership: Membership, name: str = "API token") -> tuple[ApiToken, str]:
    """A new token for the member; returns the row and the key, which is never stored."""
    key = tokens.new_key()
    token = ApiToken.objects.create(
        tenant_id=membership.tenant_id,
        user_id=membership.user_id,
        name=name,
        prefix=key[:10],
        key_hash=tokens.hash_key(key),
    )
    return token, key


@transaction.atomic
def revoke_api_token(*, token: ApiToken) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at", "updated_at"])
    return token
