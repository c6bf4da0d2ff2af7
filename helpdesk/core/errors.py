"""DomainError: the base of every business-rule error, mapped to one API envelope.
TransientError and the infrastructure errors: failures that retrying can fix."""

from __future__ import annotations

import socket
from typing import Any

import django.db
import kombu.exceptions
import psycopg
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


def is_infrastructure_error(error: BaseException) -> bool:
    """True when `error` says a service we depend on (PostgreSQL, Redis, the broker, the
    network) failed, not the work itself: the same work can succeed later, so callers
    answer "try again" (a task retry, SMTP 451, HTTP 503) and never record it as failed.

    Looks through errors raised `from` another (Django and anymail wrap the driver's or the
    HTTP client's exception that way), not through errors merely raised while handling one.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, INFRASTRUCTURE_ERRORS):
            return True
        seen.add(id(current))
        current = current.__cause__
    return False


def is_temporary(error: BaseException) -> bool:
    """A failure worth retrying: our own TransientError or an infrastructure error."""
    return isinstance(error, TransientError) or is_infrastructure_error(error)
