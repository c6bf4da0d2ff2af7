"""Managers for tenant-owned models: scoped by default, cross-tenant only by name."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import models

from helpdesk.tenancy.context import get_current_tenant_id, require_tenant_id

_cross_tenant_reason: list[str] = []


class TenantQuerySet(models.QuerySet):
    pass


class TenantManager(models.Manager):
    """The default manager: only the current tenant's rows; raises NoTenantError without one."""

    def get_queryset(self) -> models.QuerySet[Any]:
        return TenantQuerySet(self.model, using=self._db).filter(tenant_id=require_tenant_id())


class AllTenantsManager(models.Manager):
    """Rows of every tenant, through the `ops` connection (BYPASSRLS).

    Only inside `cross_tenant(reason=...)`, and only in helpdesk/ops and management
    commands (a structural test enforces where `all_tenants` appears).
    """

    def get_queryset(self) -> models.QuerySet[Any]:
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
