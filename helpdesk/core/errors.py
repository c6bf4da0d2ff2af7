"""DomainError: the base of every business-rule error, mapped to one API envelope.
TransientError and the infrastructure errors: failures that retrying can fix."""

from __future__ import annotations

import socket
from typing import Any

import django.db
import kombu.exceptions
import psycopg
import psycopg.errors
import redis.exceptions


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


INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    django.db.OperationalError,  # connection refused or lost, lock and statement timeouts
    django.db.InterfaceError,  # a connection already closed
    psycopg.OperationalError,
    psycopg.InterfaceError,
    redis.exceptions.ConnectionError,  # also redis' BusyLoadingError (a restart)
    redis.exceptions.TimeoutError,
    redis.exceptions.ReadOnlyError,  # a replica during a failover
    kombu.exceptions.OperationalError,  # the broker, through Celery
    ConnectionError,  # refused, reset, aborted, broken pipe
    TimeoutError,  # socket.timeout too
    socket.gaierror,  # a name that does not resolve (yet)
)

# Subclasses of the errors above that are about the work, not the service: a statement that
# ran into its timeout will run into it again (a pathological mail would otherwise be
# retried, and swept back, for ever).
NOT_INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (psycopg.errors.QueryCanceled,)


def is_infrastructure_error(error: BaseException) -> bool:
    """True when `error` says a service we depend on (PostgreSQL, Redis, the broker, the
    network) failed, not the work itself: the same work can succeed later, so callers
    answer "try again" (a task retry, SMTP 451, HTTP 503) and never record it as failed.

    Looks through errors raised `from` another (Django and anymail wrap the driver's or the
    HTTP client's exception that way), not through errors merely raised while handling one.
    """
    if _caused_by(error, NOT_INFRASTRUCTURE_ERRORS):
        return False
    return _caused_by(error, INFRASTRUCTURE_ERRORS)


def is_temporary(error: BaseException) -> bool:
    """A failure worth retrying: our own TransientError or an infrastructure error."""
    return isinstance(error, TransientError) or is_infrastructure_error(error)


def as_retryable(error: Exception, retried: tuple[type[BaseException], ...]) -> Exception:
    """What a task raises so that its autoretry (which matches by type only) sees the same
    thing `is_temporary` does: an outage wrapped in another exception becomes a
    TransientError, and a statement timeout, an OperationalError like an outage, becomes an
    error autoretry does not match, so it is recorded as the failure it is."""
    if _caused_by(error, NOT_INFRASTRUCTURE_ERRORS):
        if not isinstance(error, retried):
            return error
        failure: Exception = RuntimeError(f"{type(error).__name__}: {error}")
    elif is_temporary(error) and not isinstance(error, retried):
        failure = TransientError(f"{type(error).__name__}: {error}")
    else:
        return error
    failure.__cause__ = error
    return failure


def _caused_by(error: BaseException, kinds: tuple[type[BaseException], ...]) -> bool:
    """`error` or an error it was raised from is one of `kinds`."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, kinds):
            return True
        seen.add(id(current))
        current = current.__cause__
    return False
