"""Tasks on tickets (a title, an assignee, a due date, a reminder) and tickets on hold until a
date. The beat sweepers in `tickets/reminders/tasks.py` act on them once each."""

from __future__ import annotations

from django.db import models

from helpdesk.tenancy.models import TenantModel
from helpdesk.tenancy.rls import TenantFK


class TicketTask(TenantModel):
    """Something to do about a ticket, by one agent or light agent, maybe by a date.

    "Remind me" on a ticket is a task of the agent's own with only a reminder time. The
    reminder is sent once: `reminded_at` is claimed by a conditional UPDATE (NULL → now) and
    set back to NULL when `remind_at` changes."""

    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="+")
    title = models.CharField(max_length=200)
    assignee = models.ForeignKey("tenancy.Membership", on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(
        "tenancy.Membership", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    due_at = models.DateTimeField(null=True, blank=True)
    remind_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    done = models.BooleanField(default=False)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            TenantFK("ticket"),
            TenantFK("assignee"),
            TenantFK("created_by"),
        ]
        indexes = [
            # "My tasks": an agent's open tasks, by due date.
            models.Index(
                fields=["tenant", "assignee", "due_at"],
                name="tickets_task_mine_idx",
                condition=models.Q(done=False),
            ),
            # The tasks of one ticket (ticket page) and the inbox's "has an overdue task".
            models.Index(fields=["tenant", "ticket", "due_at"], name="tickets_task_ticket_idx"),
            # The reminder sweeper (across tenants): reminders not sent yet.
            models.Index(
                fields=["remind_at"],
                name="tickets_task_remind_idx",
                condition=models.Q(reminded_at__isnull=True, done=False, remind_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return self.title


class TicketHold(TenantModel):
    """A ticket on hold until a time: then it is open again (once; `released_at` is claimed
    by a conditional UPDATE)."""

    ticket = models.OneToOneField("tickets.Ticket", on_delete=models.CASCADE, related_name="+")
    until = models.DateTimeField()
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantModel.Meta):
        constraints = [*TenantModel.Meta.constraints, TenantFK("ticket")]
        indexes = [
            # The release sweeper (across tenants): holds not released yet.
            models.Index(
                fields=["until"],
                name="tickets_hold_due_idx",
                condition=models.Q(released_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id} until {self.until}"
