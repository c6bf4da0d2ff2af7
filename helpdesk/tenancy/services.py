"""Tenancy: a slug is unique for ever; a tenant owns its memberships and addresses."""

from __future__ import annotations

import re
from uuid import UUID

from django.db import transaction

from helpdesk.tenancy import selectors
from helpdesk.tenancy.errors import InvalidTenantSlug, TenantSlugTaken
from helpdesk.tenancy.models import InboundAddress, Tenant, TenantDomain

SLUG_PATTERN = re.compile(r"^[a-z][a-z0-9-]{1,39}$")
RESERVED_SLUGS = frozenset({"www", "api", "admin", "mail", "static", "ops", "app"})


@transaction.atomic
def create_tenant_row(
    *, slug: str, name: str, time_zone: str = "UTC", language: str = "en"
) -> Tenant:
    """A Tenant row only; `helpdesk.ops.services.create_tenant` provisions the rest.

    Raises InvalidTenantSlug, TenantSlugTaken.
    """
    slug = slug.strip().lower()
    if not SLUG_PATTERN.match(slug) or slug in RESERVED_SLUGS or slug.endswith("-"):
        raise InvalidTenantSlug(slug=slug)
    if Tenant.objects.filter(slug=slug).exists():
        raise TenantSlugTaken(slug=slug)
    return Tenant.objects.create(
        slug=slug, name=name.strip() or slug, time_zone=time_zone, language=language
    )


@transaction.atomic
def add_custom_domain(*, tenant: Tenant, domain: str) -> TenantDomain:
    return TenantDomain.objects.create(tenant=tenant, domain=domain.strip().lower().rstrip("."))


@transaction.atomic
def register_inbound_address(*, tenant_id: UUID, address: str, mailbox_id: UUID) -> InboundAddress:
    """Point `address` at a mailbox of the tenant. Raises IntegrityError if another owns it."""
    address = address.strip().lower()
    row, _ = InboundAddress.objects.update_or_create(
        address=address, tenant_id=tenant_id, defaults={"mailbox_id": mailbox_id}
    )
    _forget_inbound_address(address)
    return row


@transaction.atomic
def unregister_inbound_address(*, tenant_id: UUID, address: str) -> None:
    InboundAddress.objects.filter(tenant_id=tenant_id, address=address.strip().lower()).delete()
    _forget_inbound_address(address)


def _forget_inbound_address(address: str) -> None:
    """Drop intake's cached answer for the address, now and after the commit (a mail read
    in between would cache the old row again)."""
    selectors.forget_inbound_address(address)
    transaction.on_commit(lambda: selectors.forget_inbound_address(address))
