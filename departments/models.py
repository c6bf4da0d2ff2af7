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
            TenantFK("membership"),
            models.UniqueConstraint(
                fields=["tenant", "department", "membership"],
                name="departments_departmentmember_uniq",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.membership_id} in {self.department_id}"


DEFAULT_AUTO_ACK_SUBJECT = "Re: {{ ticket.subject }} [#{{ ticket.number }}]"
DEFAULT_AUTO_ACK_BODY = """Hello {{ contact.first_name }},

thank you for writing to {{ tenant.name }}. We received your message and opened
request #{{ ticket.number }}; an agent will get back to you soon.

You can follow it here: {{ ticket.tracking_link }}
Reply to this email to add anything to the request.
"""


class ImapSecurity(models.TextChoices):
    """How the IMAP connection is protected, as mail clients name it."""

    SSL = "ssl", "SSL/TLS (encrypted from the start, usually port 993)"
    STARTTLS = "starttls", "STARTTLS (upgraded before login, usually port 143; required)"
    NONE = "none", "None (password in clear text: trusted networks only)"


class Mailbox(TenantModel):
    """A support address of the tenant; mail to it becomes tickets in its department.

    Optional IMAP settings let the help desk poll an existing mailbox instead of (or as
    well as) receiving mail by SMTP or an ESP webhook. The password is stored encrypted.
    """

    address = models.EmailField(max_length=254)
    aliases = models.JSONField(
        default=list, blank=True, help_text="More addresses delivering into this mailbox."
    )
    display_name = models.CharField(max_length=120, blank=True)
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="mailboxes")
    is_default = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    auto_ack_enabled = models.BooleanField(default=True)
    # Empty: the tenant's (or department's) acknowledgement email template.
    auto_ack_subject = models.CharField(max_length=250, blank=True, default="")
    auto_ack_body = models.TextField(blank=True, default="")
    imap_enabled = models.BooleanField(default=False)
    imap_host = models.CharField(max_length=253, blank=True)
    imap_port = models.PositiveIntegerField(default=993)
    imap_security = models.CharField(
        max_length=10, choices=ImapSecurity.choices, default=ImapSecurity.SSL
    )
    imap_username = models.CharField(max_length=254, blank=True)
    imap_password_encrypted = models.TextField(blank=True)
    imap_folder = models.CharField(max_length=200, default="INBOX")
    imap_archive_folder = models.CharField(
        max_length=200,
        blank=True,
        help_text="Move fetched mail here; empty: leave it and mark it seen.",
    )
    imap_uid_validity = models.BigIntegerField(null=True, blank=True)
    imap_last_uid = models.BigIntegerField(default=0)
    imap_last_polled_at = models.DateTimeField(null=True, blank=True)
    imap_last_error = models.TextField(blank=True)

    class Meta(TenantModel.Meta):
        ordering = ["address"]
        constraints = [
            *TenantModel.Meta.constraints,
            TenantFK("department"),
            models.UniqueConstraint(
                "tenant", Lower("address"), name="departments_mailbox_address_uniq"
            ),
        ]
        indexes = [
            # The IMAP poller: a tenant's mailboxes to poll.
            models.Index(
                fields=["tenant", "imap_enabled"],
                name="departments_mailbox_imap_idx",
                condition=models.Q(imap_enabled=True),
            ),
        ]

    def __str__(self) -> str:
        return self.address

    @property
    def all_addresses(self) -> list[str]:
        return [self.address, *self.aliases]

    @property
    def from_header(self) -> str:
        from email.utils import formataddr

        return formataddr((self.display_name, self.address)) if self.display_name else self.address


class BusinessHours(TenantModel):
    """A weekly schedule in one time zone, with holidays: the clock SLA targets count on.

    `intervals` holds the working periods as [{"day": 0-6 (Monday 0), "start": "HH:MM",
    "end": "HH:MM"}], checked by departments.services; "24:00" ends a period at midnight.
    """

    name = models.CharField(max_length=120)
    timezone = models.CharField(max_length=64, default="UTC")
    intervals = models.JSONField(default=list)

    class Meta(TenantModel.Meta):
        ordering = ["name"]
        constraints = [
            *TenantModel.Meta.constraints,
            models.UniqueConstraint(
                "tenant", Lower("name"), name="departments_businesshours_name_uniq"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Holiday(TenantModel):
    """A day off in a schedule: no business time counts on it."""

    business_hours = models.ForeignKey(
        BusinessHours, on_delete=models.CASCADE, related_name="holidays"
    )
    date = models.DateField()
    name = models.CharField(max_length=120, blank=True)

    class Meta(TenantModel.Meta):
        ordering = ["date"]
        constraints = [
            *TenantModel.Meta.constraints,
            TenantFK("business_hours"),
            models.UniqueConstraint(
                fields=["tenant", "business_hours", "date"], name="departments_holiday_uniq"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.name}".strip()
