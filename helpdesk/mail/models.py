"""The outbox: every email the help desk sends, as built, with its delivery state."""

from __future__ import annotations

from django.db import models

from helpdesk.tenancy.models import TenantModel


class OutboundEmailStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
    UNKNOWN = "unknown", "Interrupted (may not have been sent)"


class OutboundEmailKind(models.TextChoices):
    REPLY = "reply", "Reply"
    AUTO_REPLY = "auto_reply", "Automatic reply"
    NOTIFICATION = "notification", "Agent notification"
    INVITATION = "invitation", "Invitation"
    PASSWORD_RESET = "password_reset", "Password reset"
    PORTAL_SIGN_IN = "portal_sign_in", "Customer portal sign-in link"


class OutboundEmail(TenantModel):
    """One email as it goes out: rendered parts and headers fixed when it was queued, so a
    retry or the sweeper sends exactly the same mail with the same Message-ID."""

    key = models.CharField(
        max_length=255, help_text="The sender's idempotency key: one email per key and tenant."
    )
    kind = models.CharField(max_length=32, choices=OutboundEmailKind.choices)
    from_email = models.CharField(max_length=998)
    to = models.JSONField(default=list)
    cc = models.JSONField(default=list, blank=True)
    bcc = models.JSONField(default=list, blank=True, help_text="Blind copies: never in a header.")
    reply_to = models.JSONField(default=list, blank=True)
    subject = models.CharField(max_length=998)
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    headers = models.JSONField(default=dict, blank=True)
    message_id = models.CharField(max_length=998, help_text="RFC 822 Message-ID.")
    attachments = models.JSONField(
        default=list, blank=True, help_text="[{'path', 'filename', 'content_type'}] in storage."
    )
    tags = models.JSONField(default=list, blank=True)
    metadata = models.JSONField(
        default=dict, blank=True, help_text="Sent to the ESP, which returns it with its events."
    )
    status = models.CharField(
        max_length=16, choices=OutboundEmailStatus.choices, default=OutboundEmailStatus.QUEUED
    )
    attempts = models.PositiveIntegerField(default=0)
    provider_message_id = models.CharField(
        max_length=255, blank=True, help_text="The ESP's id, for delivery-status webhooks."
    )
    error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            models.UniqueConstraint(fields=["tenant", "key"], name="mail_outboundemail_key_uniq"),
            models.CheckConstraint(
                condition=models.Q(status__in=OutboundEmailStatus.values),
                name="mail_outboundemail_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=OutboundEmailKind.values),
                name="mail_outboundemail_kind_valid",
            ),
        ]
        indexes = [
            # Outbound sweeper: mail queued or being sent, by last change.
            models.Index(
                fields=["tenant", "status", "updated_at"],
                name="mail_outbound_sweep_idx",
                condition=models.Q(status__in=["queued", "sending"]),
            ),
            # Delivery-status webhooks: the email the ESP's id names.
            models.Index(
                fields=["tenant", "provider_message_id"],
                name="mail_outbound_provider_idx",
                condition=~models.Q(provider_message_id=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.message_id} ({self.status})"
