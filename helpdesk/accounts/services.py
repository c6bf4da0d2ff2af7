"""Accounts: one user per email address; a token belongs to one member of one tenant."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from helpdesk.accounts import selectors, signals, tasks, tokens
from helpdesk.accounts.errors import AdminRequired, AlreadyAMember, InvalidInvitation, OwnSeat
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


# --- The team: invitations, roles, deactivation -------------------------------------------


@transaction.atomic
def invite_member(
    *, tenant: Tenant, email: str, name: str = "", role: str, actor: Membership
) -> Membership:
    """Seat a person in the team with `role`, creating their login when they have none, and
    email them (after the commit) a link to choose a password, or to log in with the one
    they have. A deactivated member comes back with the new role. Raises
    InvalidInvitation, AlreadyAMember."""
    email = email.strip()
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidInvitation(f"{email!r} is not a valid email address.") from None
    if role not in MembershipRole.values:
        raise InvalidInvitation(f"A role is one of {', '.join(MembershipRole.values)}.")
    user = get_or_create_user(email=email, name=name.strip()[:200])
    seat = Membership.objects.filter(tenant=tenant, user=user).first()
    if seat is not None and seat.is_active:
        raise AlreadyAMember(f"{user.email} is already on the team.")
    membership = add_member(tenant=tenant, user=user, role=role)
    transaction.on_commit(
        lambda: tasks.send_invitation.delay(
            tenant_id=str(tenant.id),
            membership_id=str(membership.id),
            inviter=actor.user.display_name,
        )
    )
    return membership


@transaction.atomic
def change_member(
    *,
    membership: Membership,
    actor: Membership,
    role: str | None = None,
    is_active: bool | None = None,
) -> Membership:
    """Another member's role or seat. Raises OwnSeat (yourself), AdminRequired (the last
    active admin), InvalidInvitation (an unknown role)."""
    if membership.id == actor.id:
        raise OwnSeat()
    if role is not None and role not in MembershipRole.values:
        raise InvalidInvitation(f"A role is one of {', '.join(MembershipRole.values)}.")
    new_role = role or membership.role
    active = membership.is_active if is_active is None else is_active
    was_admin = membership.is_active and membership.role == MembershipRole.ADMIN
    if was_admin and not (active and new_role == MembershipRole.ADMIN):
        admins = Membership.objects.select_for_update().filter(
            tenant_id=membership.tenant_id, role=MembershipRole.ADMIN, is_active=True
        )
        if not admins.exclude(id=membership.id).exists():
            raise AdminRequired()
    could_take = membership.can_reply and membership.is_active
    membership.role, membership.is_active = new_role, active
    membership.save(update_fields=["role", "is_active", "updated_at"])
    if could_take and not (membership.can_reply and membership.is_active):
        signals.member_unassignable.send(
            sender=Membership, tenant_id=membership.tenant_id, membership_id=membership.id
        )
    return membership
