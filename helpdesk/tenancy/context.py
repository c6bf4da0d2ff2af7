"""The current tenant: a ContextVar plus the PostgreSQL setting `app.tenant_id`.

Entry points (middleware, tasks, commands) enter `tenant_context`; nothing else sets it.
The database setting is transaction-local, so the context opens a transaction and
restores the previous value itself on exit (a released savepoint keeps local settings).
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def no_tenant() -> Iterator[None]:
    """Assert the block runs with no tenant (used by platform pages); raises otherwise."""
    if _current_tenant.get() is not None:
        raise TenantSwitchError("this code must run outside any tenant context")
    yield
