"""Managers for tenant-owned models: scoped by default, cross-tenant only by name."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar, cast

from django.db import models
from django.db.models.lookups import Lookup
from django.db.models.sql.where import AND

from helpdesk.tenancy.context import get_current_tenant_id, require_tenant_id

_cross_tenant_reason: list[str] = []

_ModelT = TypeVar("_ModelT", bound=models.Model)


class TenantQuerySet(models.QuerySet[_ModelT]):
    pass


class TenantManager(models.Manager[_ModelT]):
    """The default manager: only the current tenant's rows; raises NoTenantError without one."""

    def get_queryset(self) -> models.QuerySet[_ModelT]:
        # The same condition `.filter(tenant_id=...)` builds, added to the WHERE directly:
        # every query and every save passes here, and the generic filter path costs about
        # 60 µs of Python each time, this about 10.
        queryset: TenantQuerySet[_ModelT] = TenantQuerySet(self.model, using=self._db)
        query = queryset.query
        field = cast("models.ForeignKey[Any, Any]", self.model._meta.get_field("tenant"))
        lookup = cast("type[Lookup[Any]]", field.get_lookup("exact"))
        query.where.add(lookup(field.get_col(query.get_initial_alias()), require_tenant_id()), AND)
        return queryset


class AllTenantsManager(models.Manager[_ModelT]):
    """Rows of every tenant, through the `ops` connection (BYPASSRLS).

    Only inside `cross_tenant(reason=...)`, and only in helpdesk/ops and management
    commands (a structural test enforces where `all_tenants` appears).
    """

    def get_queryset(self) -> models.QuerySet[_ModelT]:
        if not _cross_tenant_reason:
            raise RuntimeError("Model.all_tenants is only usable inside cross_tenant(reason=...)")
        if get_current_tenant_id() is not None:
            raise RuntimeError("cross_tenant reads must not run inside a tenant context")
        return models.QuerySet(self.model, using="ops")


@contextmanager
def cross_tenant(*, reason: str) -> Iterator[None]:
    """Allow `Model.all_tenants` in this block; `reason` says why (kept for audit logs)."""
    if not reason.strip():
        raise ValueError("cross_tenant needs a reason")
    _cross_tenant_reason.append(reason)
    try:
        yield
    finally:
        _cross_tenant_reason.pop()
