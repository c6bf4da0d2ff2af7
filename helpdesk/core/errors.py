"""DomainError: the base of every business-rule error, mapped to one API envelope."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A rule was broken. `code` is a stable snake_case constant; `status` the HTTP status."""

    code = "domain_error"
    status = 400
    message = "The request breaks a rule."
    public_details = False  # True: the API error envelope carries `details` for the caller

    def __init__(self, message: str | None = None, **details: Any) -> None:
        self.details = details
        super().__init__(message or self.message)


class NotFound(DomainError):
    code = "not_found"
    status = 404
    message = "Not found."


class Conflict(DomainError):
    code = "conflict"
    status = 409
    message = "Not allowed in the current state."


class PermissionDenied(DomainError):
    code = "permission_denied"
    status = 403
    message = "Your role does not allow this."


class TransientError(Exception):
    """A failure worth retrying (a peer down, a lock timeout). Tasks retry on it."""
