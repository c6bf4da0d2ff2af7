"""Errors of shifts and leave (the API envelope maps them by code)."""

from helpdesk.core.errors import DomainError, NotFound


class InvalidShift(DomainError):
    code = "invalid_shift"
    message = "That shift is not valid."


class ShiftNotFound(NotFound):
    code = "shift_not_found"
    message = "This member has no shift: they are on shift at all times (except on leave)."


class InvalidLeave(DomainError):
    code = "invalid_leave"
    message = "That leave is not valid."


class LeaveNotFound(NotFound):
    code = "leave_not_found"
    message = "No such leave."
