"""What agents are told: their email notification choices and the in-app notification list."""

from __future__ import annotations

from django.db import models

from helpdesk.tenancy.models import TenantModel
from helpdesk.tenancy.rls import TenantFK


class NotificationKind(models.TextChoices):
    ASSIGNED = "assigned", "A ticket is assigned to me"
    MENTIONED = "mentioned", "Someone mentions me in a note"
    CUSTOMER_REPLIED = "customer_replied", "The customer replies on my ticket"
    SLA_BREACHED = "sla_breached", "An SLA target of my ticket is missed"
    SATISFACTION_RATED = "satisfaction_rated", "The customer rates my ticket"
    TASK_REMINDER = "task_reminder", "A reminder of my task is due"


class NotificationSetting(TenantModel):
    """An agent's choice for one kind of email notification. No row: the email is sent."""

    membership = models.ForeignKey("tenancy.Membership", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=32, choices=NotificationKind.choices)
    email_enabled = models.BooleanField(default=True)

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            TenantFK("membership"),
            models.UniqueConstraint(
                fields=["tenant", "membership", "kind"], name="tickets_notification_uniq"
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=NotificationKind.values),
                name="tickets_notification_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.membership_id} {self.kind}: {self.email_enabled}"


class Notification(TenantModel):
    """One entry of an agent's in-app notification list."""

    member = models.ForeignKey("tenancy.Membership", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=32, choices=NotificationKind.choices)
    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(
        "tickets.Message", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    actor = models.ForeignKey(
        "tenancy.Membership", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            TenantFK("ticket"),
            TenantFK("message"),
            TenantFK("member"),
            TenantFK("actor"),
            models.CheckConstraint(
                condition=models.Q(kind__in=NotificationKind.values),
                name="tickets_notification_entry_kind_valid",
            ),
        ]
        indexes = [
            # An agent's list, newest first, and the unread count.
            models.Index(fields=["tenant", "member", "-created_at"], name="tickets_notif_list_idx"),
            models.Index(
                fields=["tenant", "member"],
                name="tickets_notif_unread_idx",
                condition=models.Q(read_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.member_id}"
