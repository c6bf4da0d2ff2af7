"""Provisioning: a new tenant always has a default department, the default mailbox
support@<slug>.<base domain> and at least one admin."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from departments import services as department_services
from departments.models import Department, Mailbox
from helpdesk.accounts import services as account_services
from helpdesk.tenancy import services as tenancy_services
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import Membership, MembershipRole, Tenant


@dataclass(frozen=True)
class ProvisionedTenant:
    tenant: Tenant
    admin: Membership
    department: Department
    mailbox: Mailbox


def default_mailbox_address(slug: str) -> str:
    return f"support@{slug}.{settings.HELPDESK_BASE_DOMAIN}"


@transaction.atomic
def create_tenant(
    *,
    slug: str,
    name: str,
    admin_email: str,
    admin_password: str | None,
    admin_name: str = "",
    time_zone: str = "UTC",
    language: str = "en",
) -> ProvisionedTenant:
    """Create and provision a tenant. Raises InvalidTenantSlug, TenantSlugTaken."""
    tenant = tenancy_services.create_tenant_row(
        slug=slug, name=name, time_zone=time_zone, language=language
    )
    user = account_services.get_or_create_user(
        email=admin_email, name=admin_name, password=admin_password
    )
    admin = account_services.add_member(tenant=tenant, user=user, role=MembershipRole.ADMIN)
    with tenant_context(tenant.id):
        department, mailbox = department_services.provision_support_department(
            admin=admin,
            mailbox_address=default_mailbox_address(tenant.slug),
            mailbox_name=f"{tenant.name} Support",
        )
    return ProvisionedTenant(tenant=tenant, admin=admin, department=department, mailbox=mailbox)
