"""Errors of team management (the API envelope maps them by code)."""

from helpdesk.core.errors import Conflict, DomainError, NotFound, PermissionDenied


class InvalidInvitation(DomainError):
    code = "invalid_invitation"
    message = "That is not a valid email address."


class AlreadyAMember(Conflict):
    code = "already_a_member"
    message = "That person is already on the team."


class AdminRequired(Conflict):
    code = "admin_required"
    message = "The team needs at least one active admin: make someone else an admin first."


class OwnSeat(PermissionDenied):
    code = "own_seat"
    message = "You cannot change your own role or deactivate yourself; ask another admin."


class AlreadyInvited(Conflict):
    code = "already_invited"
    message = "That address already has a pending invitation: send it again from the list."


class InvitationNotFound(NotFound):
    code = "invitation_not_found"
    message = "No such invitation."


class InvitationNotPending(Conflict):
    code = "invitation_not_pending"
    message = "That invitation was already accepted or revoked."


class InvitationLinkInvalid(NotFound):
    code = "invitation_link_invalid"
    message = (
        "This invitation link no longer works: it was used, revoked, replaced by a newer one"
        " or has expired. Ask an admin of the help desk to send it again."
    )


class LoginRequired(Conflict):
    code = "login_required"
    message = "This address already has a login: accept with its password."


class InvalidAvailability(DomainError):
    code = "invalid_availability"
    message = "Availability is one of online, away or offline."


class SeatInactive(Conflict):
    code = "seat_inactive"
    message = "That seat is deactivated: reactivate it first."


class TwoFactorCodeInvalid(DomainError):
    code = "two_factor_code_invalid"
    message = "That code is not right, or was already used. Try the current one."


class TwoFactorAlreadyOn(Conflict):
    code = "two_factor_already_on"
    message = "Two-factor sign-in is already on: turn it off first to set up a new device."


class TwoFactorNotOn(Conflict):
    code = "two_factor_not_on"
    message = "Two-factor sign-in is not on for this login."


class InvalidSsoSettings(DomainError):
    code = "invalid_sso_settings"
    message = "The single sign-on settings are not valid."
    public_details = True  # {"field": ...}: which one


class SsoNotConfigured(NotFound):
    code = "sso_not_configured"
    message = "Single sign-on is not set up for this help desk."


class SsoProviderUnreachable(Conflict):
    code = "sso_provider_unreachable"
    message = "The single sign-on provider could not be reached or answered wrongly."


class SsoSignInFailed(DomainError):
    code = "sso_sign_in_failed"
    message = "Single sign-on did not work. Try again, or log in with your password."
