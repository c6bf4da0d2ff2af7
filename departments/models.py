"""Departments (teams that own tickets), their agents, and mailboxes (address -> department)."""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Lower

from helpdesk.tenancy.models import TenantModel
from helpdesk.tenancy.rls import TenantFK


class Department(TenantModel):
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    is_default = models.BooleanField(default=False)

    class Meta(TenantModel.Meta):
        ordering = ["name"]
        constraints = [
            *TenantModel.Meta.constraints,
            models.UniqueConstraint(
                "tenant", Lower("name"), name="departments_department_name_uniq"
            ),
            # At most one default department per tenant: where new tickets land.
            models.UniqueConstraint(
                fields=["tenant"],
                condition=models.Q(is_default=True),
                name="departments_department_one_default",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class DepartmentMember(TenantModel):
    """An agent's seat in a department. `membership_id` is the global tenancy.Membership."""

    department = models.ForeignKey(Department, on_delete=models.CASCADE, related_name="members")
    membership = models.ForeignKey("tenancy.Membership", on_delete=models.CASCADE, related_name="+")

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            TenantFK("department"),
            models.UniqueConstraint(
                fields=["tenant", "department", "membership"],
                name="departments_departmentmember_uniq",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.membership_id} in {self.department_id}"


class Mailbox(TenantModel):
    """A support address of the tenant; mail to it becomes tickets in its department."""

    address = models.EmailField(max_length=254)
    display_name = models.CharField(max_length=120, blank=True)
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="mailboxes")
    is_default = models.BooleanField(default=False)

    class Meta(TenantModel.Meta):
        ordering = ["address"]
        constraints = [
            *TenantModel.Meta.constraints,
            TenantFK("department"),
            models.UniqueConstraint(
                "tenant", Lower("address"), name="departments_mailbox_address_uniq"
            ),
        ]

    def __str__(self) -> str:
        return self.address
