"""The current tenant: a ContextVar plus the PostgreSQL setting `app.tenant_id`.

Entry points (middleware, tasks, commands) enter `tenant_context`; nothing else sets it,
except `execute_in_tenant`, which sets it for one raw statement in a transaction of its
own. The database setting is transaction-local, so the context opens a transaction and
restores the previous value itself on exit (a released savepoint keeps local settings).
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from django.db import connections, transaction

from helpdesk.tenancy.errors import NoTenantError, TenantSwitchError

_current_tenant: contextvars.ContextVar[UUID | None] = contextvars.ContextVar(
    "helpdesk_tenant_id", default=None
)


def get_current_tenant_id() -> UUID | None:
    return _current_tenant.get()


def require_tenant_id() -> UUID:
    """The current tenant id; raises NoTenantError outside a tenant context."""
    tenant_id = _current_tenant.get()
    if tenant_id is None:
        raise NoTenantError("no tenant context: enter tenant_context(tenant_id) first")
    return tenant_id


def _set_db_tenant(value: str, using: str) -> None:
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT set_config('app.tenant_id', %s, true)", [value])


@contextmanager
def tenant_context(tenant_id: UUID | str, *, using: str = "default") -> Iterator[UUID]:
    """Run the block as `tenant_id`, inside one transaction, scoped and under RLS."""
    tenant_uuid = tenant_id if isinstance(tenant_id, UUID) else UUID(str(tenant_id))
    previous = _current_tenant.get()
    if previous is not None:
        if previous != tenant_uuid:
            raise TenantSwitchError(f"inside tenant {previous}, asked for {tenant_uuid}")
        yield tenant_uuid
        return
    # Outermost: the transaction ends with the block and takes the local setting with it.
    # Nested in an outer transaction: the setting would outlive the released savepoint, so
    # it is cleared by hand.
    outermost = not connections[using].in_atomic_block
    with transaction.atomic(using=using):
        token = _current_tenant.set(tenant_uuid)
        _set_db_tenant(str(tenant_uuid), using)
        try:
            yield tenant_uuid
        finally:
            _current_tenant.reset(token)
            if not outermost and not connections[using].needs_rollback:
                _set_db_tenant("", using)


_SET_TENANT = "SELECT set_config('app.tenant_id', %s, true); "
_CLEAR_TENANT = "; SELECT set_config('app.tenant_id', '', true)"


def execute_in_tenant(
    tenant_id: UUID | str, sql: str, params: Sequence[Any], *, using: str = "default"
) -> list[tuple[Any, ...]]:
    """Run one raw statement as `tenant_id`, under RLS, committed on its own, in one round
    trip to the server; returns its rows.

    The setting and the statement go as one simple query, which PostgreSQL runs as one
    implicit transaction: the transaction-local setting ends with it, as it does with
    tenant_context, which costs four round trips around a statement (BEGIN, the setting,
    the statement, COMMIT). For a loop that must commit after every step (the outbox's
    delivery: claim, send, record). The ORM's guard (the ContextVar) is not entered, so
    the statement names the tenant itself. Inside a transaction (a caller's, a test's) the
    statement joins it and the setting is cleared after it, in the same round trip, as a
    nested tenant_context does; inside this tenant's context it just runs. Raises
    TenantSwitchError inside another tenant's context."""
    tenant_uuid = tenant_id if isinstance(tenant_id, UUID) else UUID(str(tenant_id))
    current = _current_tenant.get()
    if current is not None and current != tenant_uuid:
        raise TenantSwitchError(f"inside tenant {current}, asked for {tenant_uuid}")
    with connections[using].cursor() as cursor:
        if current is not None:
            cursor.execute(sql, params)
            return list(cursor.fetchall()) if cursor.description else []
        nested = connections[using].in_atomic_block
        # One query string, several statements: client-side binding sends it with the simple
        # query protocol (Django's psycopg cursors bind on the client unless
        # server_side_binding is set), and the cursor starts at the setting's result.
        cursor.execute(
            _SET_TENANT + sql + (_CLEAR_TENANT if nested else ""), [str(tenant_uuid), *params]
        )
        cursor.nextset()
        return list(cursor.fetchall()) if cursor.description else []


@contextmanager
def no_tenant() -> Iterator[None]:
    """Assert the block runs with no tenant (used by platform pages); raises otherwise."""
    if _current_tenant.get() is not None:
        raise TenantSwitchError("this code must run outside any tenant context")
    yield
