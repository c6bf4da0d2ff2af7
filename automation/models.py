"""Automation: canned responses (rules, assignment and SLAs arrive with their issues)."""

from __future__ import annotations

from django.db import models

from helpdesk.tenancy.models import TenantModel
from helpdesk.tenancy.rls import TenantFK


class CannedResponseScope(models.TextChoices):
    TENANT = "tenant", "Everyone"
    DEPARTMENT = "department", "One department"
    PERSONAL = "personal", "Only me"


class CannedResponse(TenantModel):
    """A reusable answer with placeholders, inserted into the reply editor."""

    title = models.CharField(max_length=120)
    body = models.TextField()
    scope = models.CharField(
        max_length=16, choices=CannedResponseScope.choices, default=CannedResponseScope.PERSONAL
    )
    department = models.ForeignKey(
        "departments.Department", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    owner = models.ForeignKey(
        "tenancy.Membership", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    usage_count = models.PositiveIntegerField(default=0)

    class Meta(TenantModel.Meta):
        ordering = ["title"]
        constraints = [
            *TenantModel.Meta.constraints,
            TenantFK("department"),
            models.CheckConstraint(
                condition=models.Q(scope__in=CannedResponseScope.values),
                name="automation_cannedresponse_scope_valid",
            ),
            # A department response names its department; a personal one its owner.
            models.CheckConstraint(
                condition=(
                    models.Q(scope="department", department__isnull=False)
                    | ~models.Q(scope="department")
                ),
                name="automation_cannedresponse_department_set",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(scope="personal", owner__isnull=False) | ~models.Q(scope="personal")
                ),
                name="automation_cannedresponse_owner_set",
            ),
        ]
        indexes = [
            # The picker: a tenant's responses by scope.
            models.Index(fields=["tenant", "scope"], name="automation_canned_scope_idx"),
        ]

    def __str__(self) -> str:
        return self.title
