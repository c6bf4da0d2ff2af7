"""Reads of tasks: one task, a ticket's tasks, an agent's open tasks (overdue first)."""

from __future__ import annotations

import datetime
from uuid import UUID

from django.db.models import BooleanField, Case, F, QuerySet, Value, When

from tickets.errors import TaskNotFound
from tickets.models import TicketHold, TicketTask


def get_task(task_id: UUID) -> TicketTask:
    """The task of the current tenant; raises TaskNotFound."""
    task = TicketTask.objects.select_related("ticket", "assignee__user").filter(id=task_id).first()
    if task is None:
        raise TaskNotFound(task_id=str(task_id))
    return task


def with_overdue(tasks: QuerySet[TicketTask], now: datetime.datetime) -> QuerySet[TicketTask]:
    """`overdue`: not done and past its due time."""
    return tasks.annotate(
        overdue=Case(
            When(done=False, due_at__lt=now, then=Value(True)),
            default=Value(False),
            output_field=BooleanField(),
        )
    )


def list_tasks(
    *,
    now: datetime.datetime,
    ticket_id: UUID | None = None,
    assignee_id: UUID | None = None,
    done: bool | None = None,
) -> QuerySet[TicketTask]:
    """Tasks with their ticket and assignee, overdue first, then by due time (none last)."""
    tasks = TicketTask.objects.select_related("ticket", "assignee__user")
    if ticket_id is not None:
        tasks = tasks.filter(ticket_id=ticket_id)
    if assignee_id is not None:
        tasks = tasks.filter(assignee_id=assignee_id)
    if done is not None:
        tasks = tasks.filter(done=done)
    return with_overdue(tasks, now).order_by(
        "done", F("overdue").desc(), F("due_at").asc(nulls_last=True), "id"
    )


def list_my_tasks(*, member_id: UUID, now: datetime.datetime) -> QuerySet[TicketTask]:
    """ "My tasks": the member's open tasks, overdue first."""
    return list_tasks(now=now, assignee_id=member_id, done=False)


def get_hold(ticket_id: UUID) -> TicketHold | None:
    """The ticket's hold that has not been released yet, if any."""
    return TicketHold.objects.filter(ticket_id=ticket_id, released_at__isnull=True).first()
