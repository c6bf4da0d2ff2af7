"""Tenant (a company on the installation), its domains, memberships and inbound addresses."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import models

from helpdesk.core.models import BaseModel
from helpdesk.tenancy.context import get_current_tenant_id, require_tenant_id
from helpdesk.tenancy.errors import CrossTenantWrite
from helpdesk.tenancy.managers import AllTenantsManager, TenantManager
from helpdesk.tenancy.rls import TenantRLS


class Tenant(BaseModel):
    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    time_zone = models.CharField(max_length=64, default="UTC")
    language = models.CharField(max_length=16, default="en")
    is_active = models.BooleanField(default=True)
    # Help center and customer portal branding: an accent colour (#rrggbb) served in the
    # tenant's theme.css (the Content-Security-Policy allows no inline styles) and a logo
    # served from /help/logo/.
    brand_colour = models.CharField(max_length=7, blank=True, default="")
    logo = models.FileField(upload_to="branding/", blank=True, default="")
    # Customer portal: a company's contacts see all of the company's requests.
    portal_company_requests = models.BooleanField(default=False)

    class Meta:
        ordering = ["slug"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(brand_colour="")
                | models.Q(brand_colour__regex=r"^#[0-9a-f]{6}$"),
                name="tenancy_tenant_brand_colour_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.slug


class TenantDomain(BaseModel):
    """A custom domain answering for a tenant (support.example.com)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="domains")
    domain = models.CharField(max_length=253, unique=True)

    def __str__(self) -> str:
        return self.domain


class MembershipRole(models.TextChoices):
    ADMIN = "admin", "Admin"
    AGENT = "agent", "Agent"
    LIGHT_AGENT = "light_agent", "Light agent"


class Availability(models.TextChoices):
    """Whether a member takes new tickets now (routing reads it; see departments.shifts)."""

    ONLINE = "online", "Online"
    AWAY = "away", "Away"
    OFFLINE = "offline", "Offline"


class MembershipQuerySet(models.QuerySet["Membership"]):
    def in_current_tenant(self) -> MembershipQuerySet:
        """Members of the current tenant (global table: never read it unfiltered)."""
        return self.filter(tenant_id=require_tenant_id())


class Membership(BaseModel):
    """A user's seat in a tenant with one role. Global: looked up before a tenant is set."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(
        max_length=16, choices=MembershipRole.choices, default=MembershipRole.AGENT
    )
    is_active = models.BooleanField(default=True)
    session_generation = models.PositiveIntegerField(
        default=0,
        help_text="Raised when the seat is deactivated: sessions of an older one are over.",
    )
    availability = models.CharField(
        max_length=8, choices=Availability.choices, default=Availability.OFFLINE
    )
    availability_is_manual = models.BooleanField(
        default=False,
        help_text="Chosen by the member or an admin: a chosen away or offline holds until "
        "changed; a chosen online lapses to away after inactivity like an automatic one; the "
        "end of a shift and logging out take anyone offline.",
    )
    availability_changed_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(
        null=True, blank=True, help_text="Last request by the member (kept to the minute)."
    )
    on_shift = models.BooleanField(
        default=True,
        help_text="Inside the member's shift (always, without one); kept by the shift clock.",
    )

    objects = MembershipQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user"], name="tenancy_membership_uniq"),
            # What tenant-owned rows reference (TenantFK): a ticket's assignee, a message's
            # author, … can only be a member of the row's own tenant.
            models.UniqueConstraint(
                fields=["tenant", "id"], name="tenancy_membership_tenant_id_uniq"
            ),
            models.CheckConstraint(
                condition=models.Q(role__in=MembershipRole.values),
                name="tenancy_membership_role_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(availability__in=Availability.values),
                name="tenancy_membership_availability_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.tenant_id} ({self.role})"


class InboundAddressQuerySet(models.QuerySet["InboundAddress"]):
    def in_current_tenant(self) -> InboundAddressQuerySet:
        return self.filter(tenant_id=require_tenant_id())


class InboundAddress(BaseModel):
    """Address -> tenant index for inbound mail, kept in sync by the mailbox services.

    Global because the tenant of a mail is found from its recipient before any tenant
    context exists. `mailbox_id` points at departments.Mailbox (another app, so no FK).
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="inbound_addresses")
    address = models.EmailField(max_length=254, unique=True)
    mailbox_id = models.UUIDField()

    objects = InboundAddressQuerySet.as_manager()

    def __str__(self) -> str:
        return self.address


class TenantModel(BaseModel):
    """Base of every tenant-owned model: scoped manager, RLS policy, (tenant, id) unique."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, editable=False, related_name="+")

    objects = TenantManager()
    all_tenants = AllTenantsManager()

    class Meta:
        abstract = True
        base_manager_name = "objects"
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "id"], name="%(app_label)s_%(class)s_tenant_id_uniq"
            ),
            TenantRLS(name="%(app_label)s_%(class)s_rls"),
        ]

    def save(self, *args: Any, **kwargs: Any) -> None:
        current: UUID = require_tenant_id()
        # A new row has no tenant yet, whatever the field's type says.
        existing: UUID | None = self.tenant_id
        if existing is None:
            self.tenant_id = current
        elif self.tenant_id != current:
            raise CrossTenantWrite(
                f"{type(self).__name__} of tenant {self.tenant_id} saved in tenant {current}"
            )
        super().save(*args, **kwargs)


__all__ = [
    "Availability",
    "InboundAddress",
    "Membership",
    "MembershipRole",
    "Tenant",
    "TenantDomain",
    "TenantModel",
    "get_current_tenant_id",
]
