"""Accounts: one user per email address; a token belongs to one member of one tenant;
nobody is seated by an invitation without accepting it; a deactivated seat's sessions and
tokens are over for good."""

from __future__ import annotations

import secrets

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from helpdesk.accounts import selectors, signals, tasks, tokens
from helpdesk.accounts.errors import (
    AdminRequired,
    AlreadyAMember,
    AlreadyInvited,
    InvalidInvitation,
    InvitationLinkInvalid,
    InvitationNotPending,
    LoginRequired,
    OwnSeat,
)
from helpdesk.accounts.models import ApiToken, Invitation, InvitationStatus, User
from helpdesk.tenancy import permissions
from helpdesk.tenancy.errors import MemberNotFound
from helpdesk.tenancy.models import Membership, MembershipRole, Tenant
from helpdesk.tenancy.permissions import Capability


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


def _valid_role(role: str) -> str:
    if role not in MembershipRole.values:
        raise InvalidInvitation(f"A role is one of {', '.join(MembershipRole.values)}.")
    return role


@transaction.atomic
def invite_member(
    *, tenant: Tenant, email: str, name: str = "", role: str, actor: Membership
) -> Invitation:
    """A pending invitation for the address, emailed (after the commit) with a single-use
    link to accept it. Nobody is seated until then, and nothing here depends on whether
    the address has a login elsewhere (no user is read or created): the answer looks the
    same either way. Raises InvalidInvitation, AlreadyAMember (an active seat here),
    AlreadyInvited (a pending invitation: resend that one), PermissionDenied (not an admin)."""
    permissions.require(actor, Capability.MANAGE_TEAM)
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidInvitation(f"{email!r} is not a valid email address.") from None
    _valid_role(role)
    seated = Membership.objects.filter(
        tenant=tenant, is_active=True, user__in=selectors.users_with_email(email)
    )
    if seated.exists():
        raise AlreadyAMember(f"{email} is already on the team.")
    try:
        # A savepoint: a concurrent invitation of the same address trips the unique index.
        with transaction.atomic():
            invitation = Invitation.objects.create(
                email=email,
                name=name.strip()[:200],
                role=role,
                nonce=secrets.token_urlsafe(24),
                sent_at=timezone.now(),
            )
    except IntegrityError:
        raise AlreadyInvited(
            f"{email} already has a pending invitation: send it again from the list."
        ) from None
    _send_invitation(invitation, actor=actor)
    return invitation


def _send_invitation(invitation: Invitation, *, actor: Membership) -> None:
    tasks.send_invitation.delay_on_commit(
        tenant_id=str(invitation.tenant_id),
        invitation_id=str(invitation.id),
        inviter=actor.user.display_name,
    )


def _lock_pending(invitation: Invitation) -> Invitation:
    locked = Invitation.objects.select_for_update().filter(id=invitation.id).first()
    if locked is None or locked.status != InvitationStatus.PENDING:
        raise InvitationNotPending()
    return locked


@transaction.atomic
def resend_invitation(*, invitation: Invitation, actor: Membership) -> Invitation:
    """Email the invitation again with a new link (the old one stops working) valid for
    another INVITATION_VALID_FOR. Raises InvitationNotPending, PermissionDenied."""
    permissions.require(actor, Capability.MANAGE_TEAM)
    invitation = _lock_pending(invitation)
    invitation.nonce = secrets.token_urlsafe(24)
    invitation.sent_at = timezone.now()
    invitation.save(update_fields=["nonce", "sent_at", "updated_at"])
    _send_invitation(invitation, actor=actor)
    return invitation


@transaction.atomic
def revoke_invitation(*, invitation: Invitation, actor: Membership) -> Invitation:
    """Withdraw a pending invitation: its link stops working. Raises InvitationNotPending,
    PermissionDenied."""
    permissions.require(actor, Capability.MANAGE_TEAM)
    invitation = _lock_pending(invitation)
    invitation.status = InvitationStatus.REVOKED
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["status", "revoked_at", "updated_at"])
    return invitation


def _seat_invitee(invitation: Invitation, user: User) -> Membership:
    """Mark the (locked, pending) invitation accepted and seat the user with its role. A
    seat made meanwhile by other means (an admin's command) is kept as it is."""
    if invitation.is_expired(timezone.now()):
        raise InvitationLinkInvalid()
    seat = Membership.objects.filter(tenant_id=invitation.tenant_id, user=user).first()
    if seat is None or not seat.is_active:
        seat = add_member(tenant=invitation.tenant, user=user, role=invitation.role)
    invitation.status = InvitationStatus.ACCEPTED
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["status", "accepted_at", "updated_at"])
    return seat


@transaction.atomic
def accept_invitation_with_login(*, invitation: Invitation, user: User) -> Membership:
    """Seat a person who proved their existing login (the caller checked the password).
    Raises InvitationLinkInvalid (used, revoked, expired, or another address's login)."""
    if user.email.lower() != invitation.email:
        raise InvitationLinkInvalid()
    try:
        invitation = _lock_pending(invitation)
    except InvitationNotPending:
        raise InvitationLinkInvalid() from None
    return _seat_invitee(invitation, user)


@transaction.atomic
def accept_invitation_as_new(*, invitation: Invitation, name: str, password: str) -> Membership:
    """Create the login with the chosen password (or give one to a login that has none, as
    a password reset would: the link proves the address) and seat it. Raises
    InvitationLinkInvalid, LoginRequired (the address has a password: prove it instead)."""
    try:
        invitation = _lock_pending(invitation)
    except InvitationNotPending:
        raise InvitationLinkInvalid() from None
    user = selectors.users_with_email(invitation.email).select_for_update().first()
    if user is None:
        user = User.objects.create_user(
            email=invitation.email, password=password, name=name.strip()[:200]
        )
    elif user.has_usable_password() or not user.is_active:
        raise LoginRequired()
    else:
        user.set_password(password)
        if name.strip() and not user.name:
            user.name = name.strip()[:200]
        user.save(update_fields=["password", "name", "updated_at"])
    return _seat_invitee(invitation, user)


@transaction.atomic
def change_member(
    *,
    membership: Membership,
    actor: Membership,
    role: str | None = None,
    is_active: bool | None = None,
) -> Membership:
    """Another member's role or seat. Deactivating ends the member's sessions and API
    tokens here for good (reactivation does not revive them). Raises OwnSeat (yourself),
    AdminRequired (the last active member who may manage the team), InvalidInvitation (an
    unknown role), MemberNotFound (not a member of the current tenant), PermissionDenied
    (the actor may not manage the team; checked after the rules above, which hold whoever
    the caller is). The seat is read again, locked, so a stale instance cannot undo a
    concurrent change; only the fields that change are written."""
    if membership.id == actor.id:
        raise OwnSeat()
    if role is not None:
        _valid_role(role)
    # The caller's instance may be stale (a deactivation committed since the view loaded
    # it): decide on the row as it is now, locked until this change commits.
    current = (
        Membership.objects.in_current_tenant()
        .select_for_update()
        .select_related("user")
        .filter(id=membership.id)
        .first()
    )
    if current is None:
        raise MemberNotFound(member_id=str(membership.id))
    membership = current
    new_role = role or membership.role
    active = membership.is_active if is_active is None else is_active
    was_admin = membership.is_active and permissions.can_manage_team(membership)
    if was_admin and not (active and permissions.role_may(new_role, Capability.MANAGE_TEAM)):
        admins = Membership.objects.select_for_update().filter(
            tenant_id=membership.tenant_id,
            role__in=permissions.roles_with(Capability.MANAGE_TEAM),
            is_active=True,
        )
        if not admins.exclude(id=membership.id).exists():
            raise AdminRequired()
    permissions.require(actor, Capability.MANAGE_TEAM)
    could_take = permissions.can_take_tickets(membership) and membership.is_active
    if membership.is_active and not active:
        end_member_access(membership=membership)
    # Only what changes is written, so nothing this call did not mean to change is reset.
    changed = [
        name
        for name, value in (("role", new_role), ("is_active", active))
        if getattr(membership, name) != value
    ]
    if changed:
        membership.role, membership.is_active = new_role, active
        membership.save(update_fields=[*changed, "updated_at"])
    if could_take and not (permissions.can_take_tickets(membership) and membership.is_active):
        signals.member_unassignable.send(
            sender=Membership, tenant_id=membership.tenant_id, membership_id=membership.id
        )
    return membership


@transaction.atomic
def end_member_access(*, membership: Membership) -> None:
    """Revoke the member's API tokens in their tenant and raise the seat's session
    generation, so every browser session opened for the seat so far is over, also after
    a reactivation. Pending invitations of their address here are revoked too: accepting
    an old link would otherwise bring the seat back. The person's sessions, tokens and
    invitations in other tenants stay."""
    now = timezone.now()
    Invitation.objects.filter(
        email=membership.user.email.strip().lower(), status=InvitationStatus.PENDING
    ).update(status=InvitationStatus.REVOKED, revoked_at=now, updated_at=now)
    ApiToken.objects.in_current_tenant().filter(
        user_id=membership.user_id, revoked_at__isnull=True
    ).update(revoked_at=now, updated_at=now)
    Membership.objects.in_current_tenant().filter(id=membership.id).update(
        session_generation=F("session_generation") + 1, updated_at=now
    )
    membership.refresh_from_db(fields=["session_generation"])
