"""Errors of team management (the API envelope maps them by code)."""

from helpdesk.core.errors import Conflict, DomainError, PermissionDenied


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
