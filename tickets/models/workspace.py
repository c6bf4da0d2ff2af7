"""What a tenant configures about its tickets (types, custom statuses, custom fields,
priority levels, open-it-and-you-own-it) and what each agent keeps (saved views, read
markers)."""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Lower

from helpdesk.tenancy.models import TenantModel
from helpdesk.tenancy.rls import TenantFK
from tickets.models.core import Ticket, TicketStatus


class TicketType(TenantModel):
    """A tenant's kind of ticket: question, incident, bug, feature request…"""

    name = models.CharField(max_length=60)
    position = models.PositiveSmallIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta(TenantModel.Meta):
        ordering = ["position", "name"]
        constraints = [
            *TenantModel.Meta.constraints,
            models.UniqueConstraint("tenant", Lower("name"), name="tickets_tickettype_name_uniq"),
        ]

    def __str__(self) -> str:
        return self.name


class CustomStatus(TenantModel):
    """A tenant's own status ("Waiting on engineering") shown instead of the one it maps onto."""

    name = models.CharField(max_length=60)
    base_status = models.CharField(max_length=16, choices=TicketStatus.choices)
    position = models.PositiveSmallIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta(TenantModel.Meta):
        ordering = ["position", "name"]
        constraints = [
            *TenantModel.Meta.constraints,
            models.UniqueConstraint("tenant", Lower("name"), name="tickets_customstatus_name_uniq"),
            models.CheckConstraint(
                condition=models.Q(base_status__in=TicketStatus.values),
                name="tickets_customstatus_base_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CustomFieldTarget(models.TextChoices):
    TICKET = "ticket", "Ticket"
    CONTACT = "contact", "Contact"
    COMPANY = "company", "Company"


class CustomFieldType(models.TextChoices):
    TEXT = "text", "Text"
    NUMBER = "number", "Number"
    SELECT = "select", "Select"
    DATE = "date", "Date"
    CHECKBOX = "checkbox", "Checkbox"


class CustomField(TenantModel):
    """A field the tenant adds to tickets, contacts or companies; values live in the row's
    `custom_fields` JSON under `key`."""

    target = models.CharField(max_length=16, choices=CustomFieldTarget.choices)
    key = models.SlugField(max_length=40, help_text="Stable name in the API and filters.")
    label = models.CharField(max_length=80)
    type = models.CharField(max_length=16, choices=CustomFieldType.choices)
    options = models.JSONField(default=list, blank=True, help_text="Choices of a select field.")
    is_required = models.BooleanField(default=False)
    position = models.PositiveSmallIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta(TenantModel.Meta):
        ordering = ["target", "position", "label"]
        constraints = [
            *TenantModel.Meta.constraints,
            models.UniqueConstraint(
                fields=["tenant", "target", "key"], name="tickets_customfield_key_uniq"
            ),
            models.CheckConstraint(
                condition=models.Q(target__in=CustomFieldTarget.values),
                name="tickets_customfield_target_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(type__in=CustomFieldType.values),
                name="tickets_customfield_type_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.target}.{self.key}"


class WorkspaceSettingsRetentionAction(models.TextChoices):
    ANONYMIZE = "anonymize", "Erase their contents (keep anonymous records)"
    DELETE = "delete", "Delete them"


class WorkspaceSettings(TenantModel):
    """The tenant's workspace choices. No row: the defaults."""

    auto_assign_on_open = models.BooleanField(
        default=False,
        help_text="Open it and you own it: opening an unassigned ticket assigns it to the "
        "agent. Off: a ticket becomes the agent's when they reply, change it or take it.",
    )
    priorities = models.JSONField(
        default=list,
        blank=True,
        help_text="The levels in use, lowest first: [{'value', 'label'}]; empty: the default four.",
    )
    satisfaction_enabled = models.BooleanField(
        default=True, help_text="Ask the customer to rate the help once a ticket is solved."
    )
    satisfaction_delay_hours = models.PositiveSmallIntegerField(
        default=24,
        help_text="Hours after solving before the survey goes out (0: at once). A reply "
        "that reopens the ticket first holds it back.",
    )

    auto_solve_waiting_days = models.PositiveSmallIntegerField(
        default=0,
        help_text="Tickets waiting on the customer this many days are solved, with a notice "
        "to the customer (0: never).",
    )
    retention_months = models.PositiveSmallIntegerField(
        default=0,
        help_text="Solved and closed tickets older than this many months (since solved) are "
        "erased or deleted every night (0: kept for ever).",
    )
    retention_action = models.CharField(
        max_length=16,
        choices=WorkspaceSettingsRetentionAction.choices,
        default=WorkspaceSettingsRetentionAction.ANONYMIZE,
    )

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            models.UniqueConstraint(fields=["tenant"], name="tickets_workspacesettings_uniq"),
            models.CheckConstraint(
                condition=models.Q(retention_action__in=WorkspaceSettingsRetentionAction.values),
                name="tickets_workspacesettings_retention_action_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"workspace settings {self.tenant_id}"


class SavedView(TenantModel):
    """A named inbox filter: the owner's, or shared with every agent of the tenant."""

    name = models.CharField(max_length=80)
    owner = models.ForeignKey("tenancy.Membership", on_delete=models.CASCADE, related_name="+")
    is_shared = models.BooleanField(default=False)
    filters = models.JSONField(default=dict, blank=True)
    sort = models.CharField(max_length=32, default="-updated")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta(TenantModel.Meta):
        ordering = ["position", "name"]
        constraints = [*TenantModel.Meta.constraints, TenantFK("owner")]
        indexes = [
            # The views an agent sees: their own and the shared ones.
            models.Index(fields=["tenant", "owner"], name="tickets_savedview_owner_idx"),
        ]

    def __str__(self) -> str:
        return self.name


class TicketRead(TenantModel):
    """When an agent last read a ticket: newer messages show it as unread in their inbox."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey("tenancy.Membership", on_delete=models.CASCADE, related_name="+")
    read_at = models.DateTimeField()

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            TenantFK("ticket"),
            TenantFK("member"),
            models.UniqueConstraint(
                fields=["tenant", "member", "ticket"], name="tickets_ticketread_uniq"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} read {self.ticket_id}"


class AgentPreference(TenantModel):
    """A member's own choices for the workspace. No row: the tenant's defaults."""

    membership = models.OneToOneField(
        "tenancy.Membership", on_delete=models.CASCADE, related_name="+"
    )
    time_zone = models.CharField(
        max_length=64, blank=True, default="", help_text="Blank: the help desk's time zone."
    )
    signature = models.TextField(
        blank=True,
        default="",
        help_text="Signs the member's public replies ({{ agent.signature }}); blank: their name.",
    )

    class Meta(TenantModel.Meta):
        constraints = [*TenantModel.Meta.constraints, TenantFK("membership")]

    def __str__(self) -> str:
        return f"{self.membership_id}: {self.time_zone or 'tenant zone'}"
