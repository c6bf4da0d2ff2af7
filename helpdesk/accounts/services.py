"""Accounts: one user per email address; a token belongs to one member of one tenant;
nobody is seated by an invitation without accepting it; a deactivated seat's sessions and
tokens are over for good."""

from __future__ import annotations

import datetime
import secrets
from uuid import UUID

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from helpdesk.accounts import selectors, signals, tasks, tokens
from helpdesk.accounts.errors import (
    AdminRequired,
    AlreadyAMember,
    AlreadyInvited,
    InvalidAvailability,
    InvalidInvitation,
    InvitationLinkInvalid,
    InvitationNotPending,
    LoginRequired,
    OwnSeat,
    SeatInactive,
)
from helpdesk.accounts.models import ApiToken, Invitation, InvitationStatus, User
from helpdesk.tenancy import audit, permissions
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.errors import MemberNotFound
from helpdesk.tenancy.models import AuditAction, Availability, Membership, MembershipRole, Tenant
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
    with tenant_context(membership.tenant_id):
        audit.record_audit_event(
            action=AuditAction.API_TOKEN_CREATED,
            actor=membership,
            target_type="api_token",
            target_id=token.id,
            target_label=f"{name} ({token.prefix}…)",
        )
    return token, key


@transaction.atomic
def revoke_api_token(*, token: ApiToken) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at", "updated_at"])
        with tenant_context(token.tenant_id):
            owner = Membership.objects.filter(
                tenant_id=token.tenant_id, user_id=token.user_id
            ).first()
            audit.record_audit_event(
                action=AuditAction.API_TOKEN_REVOKED,
                actor=owner,
                target_type="api_token",
                target_id=token.id,
                target_label=f"{token.name} ({token.prefix}…)",
            )
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
    audit.record_audit_event(
        action=AuditAction.MEMBER_INVITED,
        actor=actor,
        target_type="invitation",
        target_id=invitation.id,
        target_label=email,
        details={"role": role},
    )
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
    audit.record_audit_event(
        action=AuditAction.INVITATION_REVOKED,
        actor=actor,
        target_type="invitation",
        target_id=invitation.id,
        target_label=invitation.email,
    )
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
    audit.record_audit_event(
        action=AuditAction.MEMBER_JOINED,
        actor=seat,
        target_type="member",
        target_id=seat.id,
        target_label=user.email,
        details={"role": seat.role, "invitation": str(invitation.id)},
    )
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
        _move(membership, Availability.OFFLINE, manual=False, now=timezone.now())
    # Only what changes is written, so nothing this call did not mean to change is reset.
    changed = [
        name
        for name, value in (("role", new_role), ("is_active", active))
        if getattr(membership, name) != value
    ]
    if changed:
        before = {name: getattr(membership, name) for name in changed}
        membership.role, membership.is_active = new_role, active
        membership.save(update_fields=[*changed, "updated_at"])
        audit.record_audit_event(
            action=AuditAction.MEMBER_CHANGED,
            actor=actor,
            target_type="member",
            target_id=membership.id,
            target_label=membership.user.email,
            details={
                name: {"from": before[name], "to": getattr(membership, name)} for name in changed
            },
        )
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


# --- Availability: online, away, offline -------------------------------------------------
#
# A member's choice (or an admin's) is manual; activity, inactivity and the shift clock
# (departments.shifts) move it automatically:
# - activity (a request in the member's browser session, recorded at most once a minute)
#   makes an automatic away or offline member online, when they are on shift;
# - inactivity (no request for HELPDESK_AWAY_AFTER_MINUTES, counted from the later of the
#   last request and the last change) makes an online member away, and a manual online
#   lapses with it: it becomes automatic, so activity brings the member back;
# - a manual away or offline holds against activity and inactivity;
# - the end of a shift, logging out and a deactivated seat make the member offline, and
#   automatic, whatever was chosen; the start of a shift makes an automatic member online
#   only if they were active lately (within HELPDESK_AWAY_AFTER_MINUTES).
# Every change sends `signals.availability_changed` inside the transaction (receivers
# enqueue with delay_on_commit), so routing sees only committed changes.

ACTIVITY_WRITE_EVERY = datetime.timedelta(minutes=1)


def away_after() -> datetime.timedelta:
    """How long without activity before an online member is away."""
    return datetime.timedelta(minutes=int(settings.HELPDESK_AWAY_AFTER_MINUTES))


def _locked_seat(membership_id: UUID | str) -> Membership:
    """The seat of the current tenant, locked until the transaction ends. Raises
    MemberNotFound."""
    seat = (
        Membership.objects.in_current_tenant()
        .select_for_update()
        .select_related("user")
        .filter(id=membership_id)
        .first()
    )
    if seat is None:
        raise MemberNotFound(member_id=str(membership_id))
    return seat


def _move(
    membership: Membership, availability: str, *, manual: bool, now: datetime.datetime
) -> bool:
    """Write the availability (and whether it was chosen by hand) of a locked seat; send
    `availability_changed` when it moved. Whether it moved is returned."""
    previous = membership.availability
    moved = previous != availability
    if not moved and membership.availability_is_manual == manual:
        return False
    membership.availability = availability
    membership.availability_is_manual = manual
    fields = ["availability", "availability_is_manual", "updated_at"]
    if moved:
        membership.availability_changed_at = now
        fields.append("availability_changed_at")
    membership.save(update_fields=fields)
    if moved:
        signals.availability_changed.send(
            sender=Membership,
            tenant_id=membership.tenant_id,
            membership_id=membership.id,
            availability=availability,
            previous=previous,
        )
    return moved


@transaction.atomic
def set_availability(
    *, membership: Membership, availability: str, actor: Membership | None
) -> Membership:
    """Set a member's availability by hand (`availability_is_manual`). A member sets their
    own; setting someone else's needs MANAGE_AVAILABILITY. Choosing again what the member
    already is makes it manual (a choice made by hand holds; see the rules above). Raises
    InvalidAvailability, MemberNotFound (not a seat of the current tenant), SeatInactive
    (deactivated), PermissionDenied."""
    if availability not in Availability.values:
        raise InvalidAvailability()
    if actor is not None and actor.id != membership.id:
        permissions.require(actor, Capability.MANAGE_AVAILABILITY)
    seat = _locked_seat(membership.id)
    if not seat.is_active:
        raise SeatInactive()
    now = timezone.now()
    if not _move(seat, availability, manual=True, now=now):
        # The same choice again still restarts the inactivity count of an online member.
        seat.availability_changed_at = now
        seat.save(update_fields=["availability_changed_at", "updated_at"])
    return seat


def record_activity(*, membership: Membership, now: datetime.datetime | None = None) -> bool:
    """The member made a request: remember when (at most one write a minute, decided from
    the instance the request loaded, so most requests write nothing), and bring an
    automatic away or offline member who is on shift online. Returns whether anything
    was written. Runs inside the request's transaction."""
    now = now or timezone.now()
    wakes = (
        not membership.availability_is_manual
        and membership.on_shift
        and membership.availability != Availability.ONLINE
    )
    seen = membership.last_seen_at
    if not wakes and seen is not None and now - seen < ACTIVITY_WRITE_EVERY:
        return False
    if not wakes:
        # No lock wait for the usual write: a concurrent request that wrote first wins.
        written = (
            Membership.objects.in_current_tenant()
            .filter(id=membership.id)
            .filter(Q(last_seen_at__isnull=True) | Q(last_seen_at__lt=now - ACTIVITY_WRITE_EVERY))
            .update(last_seen_at=now)
        )
        membership.last_seen_at = now
        return bool(written)
    with transaction.atomic():
        seat = _locked_seat(membership.id)
        seat.last_seen_at = now
        seat.save(update_fields=["last_seen_at"])
        if (
            seat.is_active
            and not seat.availability_is_manual
            and seat.on_shift
            and seat.availability != Availability.ONLINE
        ):
            _move(seat, Availability.ONLINE, manual=False, now=now)
    membership.last_seen_at = now
    membership.availability = seat.availability
    return True


@transaction.atomic
def record_logout(*, membership: Membership) -> None:
    """The member logged out: offline, and automatic (their next activity on shift brings
    them online again)."""
    seat = Membership.objects.in_current_tenant().select_for_update().filter(id=membership.id)
    locked = seat.first()
    if locked is not None:
        _move(locked, Availability.OFFLINE, manual=False, now=timezone.now())


@transaction.atomic
def set_on_shift(
    *, membership_id: UUID | str, on_shift: bool, now: datetime.datetime | None = None
) -> bool:
    """The shift clock's word (departments.shifts): the member's shift began or ended.
    Ending it makes the member offline and automatic, whatever they chose. Beginning it
    makes an automatic member online only if they were active within
    HELPDESK_AWAY_AFTER_MINUTES (someone not at work stays offline until their first
    request). A compare-and-set on the stored flag, so a second run changes nothing.
    Returns whether the flag changed."""
    now = now or timezone.now()
    seat = (
        Membership.objects.in_current_tenant()
        .select_for_update()
        .filter(id=membership_id, on_shift=not on_shift)
        .first()
    )
    if seat is None:
        return False
    seat.on_shift = on_shift
    seat.save(update_fields=["on_shift", "updated_at"])
    if not on_shift:
        _move(seat, Availability.OFFLINE, manual=False, now=now)
    elif (
        not seat.availability_is_manual
        and seat.last_seen_at is not None
        and now - seat.last_seen_at < away_after()
    ):
        _move(seat, Availability.ONLINE, manual=False, now=now)
    return True


@transaction.atomic
def mark_idle_members_away(*, now: datetime.datetime | None = None) -> int:
    """Online members of the current tenant with no activity (and no change of
    availability) for HELPDESK_AWAY_AFTER_MINUTES become away, automatically; a manual
    online lapses the same way. Locked rows are skipped: they are being changed now, and
    the next run sees them. Returns how many moved."""
    now = now or timezone.now()
    cutoff = now - away_after()
    idle = (
        Membership.objects.in_current_tenant()
        .select_for_update(skip_locked=True)
        .filter(is_active=True, availability=Availability.ONLINE)
        .filter(Q(last_seen_at__isnull=True) | Q(last_seen_at__lt=cutoff))
        .filter(Q(availability_changed_at__isnull=True) | Q(availability_changed_at__lt=cutoff))
    )
    return sum(_move(seat, Availability.AWAY, manual=False, now=now) for seat in idle)
