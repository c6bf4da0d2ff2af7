"""Mail records: every inbound message as received, mail for no tenant, and the wording of
the emails we send."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from helpdesk.core.ids import new_id
from helpdesk.tenancy.models import TenantModel
from helpdesk.tenancy.rls import TenantFK
from tickets.models.core import Message, Ticket


class InboundEmailStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    PROCESSED = "processed", "Processed"
    REJECTED = "rejected", "Rejected"
    FAILED = "failed", "Failed"


class InboundEmail(TenantModel):
    """The raw bytes of one received mail, committed before the sender is acknowledged."""

    mailbox = models.ForeignKey(
        "departments.Mailbox", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    channel = models.CharField(max_length=16, default="smtp")
    envelope_from = models.CharField(max_length=998, blank=True)
    envelope_to = models.JSONField(default=list)
    header_recipients = models.JSONField(
        default=list, help_text="Delivered-To, X-Original-To, To and Cc addresses."
    )
    message_id = models.CharField(max_length=998, blank=True)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    raw = models.BinaryField()
    status = models.CharField(
        max_length=16, choices=InboundEmailStatus.choices, default=InboundEmailStatus.QUEUED
    )
    reason = models.TextField(blank=True)
    ticket = models.ForeignKey(
        Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ticket_message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    attempts = models.PositiveIntegerField(default=0)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            TenantFK("mailbox"),
            TenantFK("ticket"),
            TenantFK("ticket_message"),
            # A redelivered mail is the same row: by Message-ID, or by content without one.
            models.UniqueConstraint(
                fields=["tenant", "message_id"],
                condition=~models.Q(message_id=""),
                name="tickets_inboundemail_msgid_uniq",
            ),
            models.UniqueConstraint(
                fields=["tenant", "sha256"],
                condition=models.Q(message_id=""),
                name="tickets_inboundemail_sha_uniq",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=InboundEmailStatus.values),
                name="tickets_inboundemail_status_valid",
            ),
        ]
        indexes = [
            # Sweeper and inbound log: rows by status, oldest first.
            models.Index(
                fields=["tenant", "status", "created_at"], name="tickets_inbound_status_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.message_id or self.sha256

    # The fields an outcome sets; the per-mail path saves them, a batch writes many at once.
    OUTCOME_FIELDS = (
        "attempts",
        "status",
        "reason",
        "ticket",
        "ticket_message",
        "processed_at",
        "updated_at",
    )

    def set_outcome(
        self,
        status: str,
        reason: str = "",
        ticket: Ticket | None = None,
        message: Message | None = None,
    ) -> None:
        """Record how processing ended, in memory: one more attempt, the status, the reason
        (cut to 2,000 characters), where the mail landed and when."""
        self.attempts += 1
        self.status = status
        self.reason = reason[:2000]
        self.ticket = ticket
        self.ticket_message = message
        self.processed_at = timezone.now()
        self.updated_at = self.processed_at


class UnroutedEmail(models.Model):
    """Mail that reached us for an address no tenant owns (ESP webhooks, ingest_email).

    Global: there is no tenant to file it under. Kept for platform staff, never processed.
    """

    id = models.UUIDField(primary_key=True, default=new_id, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    channel = models.CharField(max_length=16)
    envelope_to = models.JSONField(default=list)
    header_recipients = models.JSONField(default=list)
    subject = models.CharField(max_length=998, blank=True)
    raw = models.BinaryField()
    reason = models.TextField()

    def __str__(self) -> str:
        return f"{self.channel}: {self.reason}"


class EmailTemplateKind(models.TextChoices):
    LAYOUT = "layout", "Layout (header and footer of every email)"
    ACKNOWLEDGEMENT = "acknowledgement", "Acknowledgement of a new request"
    REPLY = "reply", "Agent reply wrapper"
    STATUS_WAITING = "status_waiting", "Status: waiting on customer"
    STATUS_SOLVED = "status_solved", "Status: solved"
    SATISFACTION_REQUEST = "satisfaction_request", "Satisfaction request"


class EmailTemplate(TenantModel):
    """A tenant's wording of one kind of customer email; a department may override it.

    Bodies use only the placeholders of helpdesk.core.placeholders (no template engine).
    """

    kind = models.CharField(max_length=32, choices=EmailTemplateKind.choices)
    department = models.ForeignKey(
        "departments.Department",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    subject = models.CharField(max_length=250, blank=True)
    body = models.TextField(blank=True)
    header = models.TextField(blank=True, help_text="Layout only: above every email.")
    footer = models.TextField(blank=True, help_text="Layout only: below every email.")

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            TenantFK("department"),
            models.CheckConstraint(
                condition=models.Q(kind__in=EmailTemplateKind.values),
                name="tickets_emailtemplate_kind_valid",
            ),
            models.UniqueConstraint(
                fields=["tenant", "kind"],
                condition=models.Q(department__isnull=True),
                name="tickets_emailtemplate_tenant_uniq",
            ),
            models.UniqueConstraint(
                fields=["tenant", "kind", "department"],
                condition=models.Q(department__isnull=False),
                name="tickets_emailtemplate_department_uniq",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} ({self.department_id or 'tenant'})"
