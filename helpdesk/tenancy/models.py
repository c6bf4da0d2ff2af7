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
from helpdesk.tenancy.rls import TenantFK, TenantRLS


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
    # Every member must sign in with a second factor (TOTP or a recovery code); a member
    # without one is asked to set it up before the session opens.
    require_two_factor = models.BooleanField(default=False)

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

    # No index of its own: (tenant, user) and (tenant, id), both unique, lead with it.
    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="memberships", db_index=False
    )
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

    # No index of its own: the (tenant, id) unique index below leads with the tenant and
    # serves every lookup by it (RLS filters, the foreign-key check on a tenant's deletion).
    tenant = models.ForeignKey(
        Tenant, on_delete=models.PROTECT, editable=False, related_name="+", db_index=False
    )

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


class AuditAction(models.TextChoices):
    """What the audit log records: changes to configuration, members and tokens, personal
    data exports and erasures, and sign-ins."""

    SIGN_IN_SUCCEEDED = "sign_in.succeeded", "Signed in"
    SIGN_IN_FAILED = "sign_in.failed", "Sign-in failed"
    API_TOKEN_CREATED = "api_token.created", "API token created"
    API_TOKEN_REVOKED = "api_token.revoked", "API token revoked"
    MEMBER_INVITED = "member.invited", "Member invited"
    INVITATION_REVOKED = "member.invitation_revoked", "Invitation revoked"
    MEMBER_JOINED = "member.joined", "Member joined"
    MEMBER_CHANGED = "member.changed", "Member changed"
    SETTINGS_CHANGED = "settings.changed", "Settings changed"
    RULE_CREATED = "rule.created", "Rule created"
    RULE_UPDATED = "rule.updated", "Rule changed"
    RULE_DELETED = "rule.deleted", "Rule deleted"
    RULES_REORDERED = "rule.reordered", "Rules reordered"
    CANNED_RESPONSE_CREATED = "canned_response.created", "Canned response created"
    CANNED_RESPONSE_UPDATED = "canned_response.updated", "Canned response changed"
    CANNED_RESPONSE_DELETED = "canned_response.deleted", "Canned response deleted"
    ARTICLE_CREATED = "article.created", "Article created"
    ARTICLE_UPDATED = "article.updated", "Article changed"
    ARTICLE_PUBLISHED = "article.published", "Article published"
    ARTICLE_UNPUBLISHED = "article.unpublished", "Article unpublished"
    ARTICLE_DELETED = "article.deleted", "Article deleted"
    TRANSLATION_CREATED = "article_translation.created", "Article translation created"
    TRANSLATION_UPDATED = "article_translation.updated", "Article translation changed"
    TRANSLATION_DELETED = "article_translation.deleted", "Article translation deleted"
    SLA_POLICY_SAVED = "sla_policy.saved", "SLA policy saved"
    SLA_POLICY_DELETED = "sla_policy.deleted", "SLA policy deleted"
    WEBHOOK_CREATED = "webhook.created", "Webhook created"
    WEBHOOK_UPDATED = "webhook.updated", "Webhook changed"
    WEBHOOK_DELETED = "webhook.deleted", "Webhook deleted"
    WEBHOOK_DISABLED = "webhook.disabled", "Webhook disabled after failures"
    WEBHOOK_TESTED = "webhook.tested", "Webhook test sent"
    INTEGRATION_CREATED = "integration.created", "Integration created"
    INTEGRATION_UPDATED = "integration.updated", "Integration changed"
    INTEGRATION_DELETED = "integration.deleted", "Integration deleted"
    INTEGRATION_TESTED = "integration.tested", "Integration test sent"
    CONTACT_EXPORTED = "contact.exported", "Contact's data exported"
    CONTACT_ERASED = "contact.erased", "Contact erased"
    RETENTION_APPLIED = "retention.applied", "Old tickets erased or deleted (retention)"
    TWO_FACTOR_ENABLED = "two_factor.enabled", "Two-factor sign-in turned on"
    TWO_FACTOR_DISABLED = "two_factor.disabled", "Two-factor sign-in turned off"
    TWO_FACTOR_RESET = "two_factor.reset", "Two-factor sign-in reset by an admin"
    RECOVERY_CODE_USED = "two_factor.recovery_code_used", "Recovery code used"


class AuditEvent(TenantModel):
    """One thing someone did to the help desk's configuration, team, tokens or personal
    data, or a sign-in: who (`actor`, none for the system or a stranger), from where
    (`ip_address`), what (`action`) to what (`target_*`), and the detail. Rows are only
    ever added (helpdesk.tenancy.audit)."""

    actor = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Kept as written: the log still says who it was once the seat or login changed.
    actor_email = models.CharField(max_length=254, blank=True, default="")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    action = models.CharField(max_length=40, choices=AuditAction.choices)
    target_type = models.CharField(max_length=40, blank=True, default="")
    target_id = models.CharField(max_length=64, blank=True, default="")
    target_label = models.CharField(max_length=300, blank=True, default="")
    details = models.JSONField(default=dict, blank=True)

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            TenantFK("actor"),
            models.CheckConstraint(
                condition=models.Q(action__in=AuditAction.values),
                name="tenancy_auditevent_action_valid",
            ),
        ]
        indexes = [
            # The audit log page and API: newest first, filtered by action or actor.
            models.Index(fields=["tenant", "-id"], name="tenancy_audit_recent_idx"),
            models.Index(fields=["tenant", "action", "-id"], name="tenancy_audit_action_idx"),
            models.Index(fields=["tenant", "actor", "-id"], name="tenancy_audit_actor_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor_email or 'system'}"


__all__ = [
    "AuditAction",
    "AuditEvent",
    "Availability",
    "InboundAddress",
    "Membership",
    "MembershipRole",
    "Tenant",
    "TenantDomain",
    "TenantModel",
    "get_current_tenant_id",
]
