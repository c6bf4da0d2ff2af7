"""Departments (teams that own tickets), their agents, and mailboxes (address -> department)."""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_noop

from helpdesk.tenancy.models import TenantModel
from helpdesk.tenancy.rls import TenantFK


class AssignmentMode(models.TextChoices):
    """How a department hands out its new tickets (automation.assignment does it)."""

    MANUAL = "manual", "Manual (agents pick tickets)"
    ROUND_ROBIN = "round_robin", "Round-robin (eligible agents in turn)"
    LOAD_BALANCED = "load_balanced", "Load-balanced (fewest open tickets first)"


# The largest cap on unsolved tickets per agent a department may set (a typo guard).
MAX_OPEN_PER_AGENT_LIMIT = 10_000


class Department(TenantModel):
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    is_default = models.BooleanField(default=False)
    assignment_mode = models.CharField(
        max_length=16, choices=AssignmentMode.choices, default=AssignmentMode.MANUAL
    )
    max_open_per_agent = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Automatic assignment stops at this many unsolved tickets per agent; "
        "empty: no limit. Direct assignment (by a person or a rule) is not limited.",
    )
    assign_offline_agents = models.BooleanField(
        default=False, help_text="Offline and away agents still get tickets in turn."
    )
    hand_back_when_offline = models.BooleanField(
        default=False,
        help_text="An agent going offline returns their unsolved tickets here to the backlog.",
    )

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
            models.CheckConstraint(
                condition=models.Q(assignment_mode__in=AssignmentMode.values),
                name="departments_department_assignment_mode_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(max_open_per_agent__gte=1)
                | models.Q(max_open_per_agent__isnull=True),
                name="departments_department_max_open_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class DepartmentMember(TenantModel):
    """An agent's seat in a department. `membership_id` is the global tenancy.Membership."""

    department = models.ForeignKey(Department, on_delete=models.CASCADE, related_name="members")
    membership = models.ForeignKey("tenancy.Membership", on_delete=models.CASCADE, related_name="+")
    last_assigned_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When round-robin last gave this agent a ticket here: the turn order.",
    )

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


# The built-in acknowledgement: English source text, marked for translation but kept a plain
# string (migration 0003 writes it as a query parameter); customer mail is composed with
# its translation into the tenant's language (tickets.mail_out.templates).
DEFAULT_AUTO_ACK_SUBJECT = gettext_noop("Re: {{ ticket.subject }} [#{{ ticket.number }}]")
DEFAULT_AUTO_ACK_BODY = gettext_noop("""Hello {{ contact.first_name }},

thank you for writing to {{ tenant.name }}. We received your message and opened
request #{{ ticket.number }}; an agent will get back to you soon.

You can follow it here: {{ ticket.tracking_link }}
Reply to this email to add anything to the request.
""")


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


class AgentShift(TenantModel):
    """A member's weekly working hours in their own time zone: outside them the member is
    offline, so a follow-the-sun team hands over by the clock. No shift: always on.

    `intervals` has the shape of BusinessHours.intervals ([{"day", "start", "end"}]).
    """

    membership = models.ForeignKey("tenancy.Membership", on_delete=models.CASCADE, related_name="+")
    timezone = models.CharField(max_length=64, default="UTC")
    intervals = models.JSONField(default=list)

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            TenantFK("membership"),
            models.UniqueConstraint(
                fields=["tenant", "membership"], name="departments_agentshift_uniq"
            ),
        ]

    def __str__(self) -> str:
        return f"shift of {self.membership_id}"


class ShiftLeave(TenantModel):
    """Days a member is off whatever their shift says (holiday, sick leave), inclusive."""

    membership = models.ForeignKey("tenancy.Membership", on_delete=models.CASCADE, related_name="+")
    starts_on = models.DateField()
    ends_on = models.DateField()
    reason = models.CharField(max_length=120, blank=True)

    class Meta(TenantModel.Meta):
        ordering = ["starts_on"]
        constraints = [
            *TenantModel.Meta.constraints,
            TenantFK("membership"),
            models.CheckConstraint(
                condition=models.Q(ends_on__gte=models.F("starts_on")),
                name="departments_shiftleave_dates_ordered",
            ),
        ]
        indexes = [
            models.Index(
                fields=["tenant", "membership", "ends_on"], name="departments_leave_member_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.starts_on} to {self.ends_on} {self.reason}".strip()
