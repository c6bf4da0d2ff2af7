"""API: tasks on tickets (`/api/v1/tasks/`), with due dates and reminders."""

from __future__ import annotations

from uuid import UUID

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from helpdesk.api.views import TenantAPIView
from tickets.models import TicketTask
from tickets.reminders import selectors, services
from tickets.reminders.serializers import (
    TaskCreateInput,
    TaskListQuery,
    TaskOutput,
    TaskUpdateInput,
)
from tickets.ticket import selectors as ticket_selectors


def _output(task: TicketTask) -> Response:
    task = selectors.with_overdue(
        TicketTask.objects.select_related("ticket", "assignee__user").filter(id=task.id),
        timezone.now(),
    ).get()
    return Response(TaskOutput(task).data)


class TaskListAPI(TenantAPIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("ticket", int, description="Only this ticket's tasks."),
            OpenApiParameter("assignee", str, description="A member id, or `me`."),
            OpenApiParameter("done", bool),
        ],
        responses=TaskOutput(many=True),
    )
    def get(self, request: Request) -> Response:
        """Tasks, newest first (`?assignee=me&done=false`: the caller's open tasks)."""
        query = self.validate(TaskListQuery, request.query_params)
        ticket_id = None
        if "ticket" in query:
            ticket_id = ticket_selectors.get_ticket_by_number(query["ticket"]).id
        assignee_id = None
        if query.get("assignee"):
            if query["assignee"] == "me":
                assignee_id = self.membership.id
            else:
                try:
                    assignee_id = UUID(query["assignee"])
                except ValueError:
                    raise ValidationError({"assignee": ["A member id or `me`."]}) from None
        tasks = selectors.list_tasks(
            now=timezone.now(), ticket_id=ticket_id, assignee_id=assignee_id, done=query["done"]
        )
        return self.paginate(request, tasks, TaskOutput)

    @extend_schema(request=TaskCreateInput, responses={201: TaskOutput})
    def post(self, request: Request) -> Response:
        """A task on a ticket; the assignee is the caller unless another member is named."""
        data = self.validate(TaskCreateInput, request.data)
        ticket = ticket_selectors.get_ticket_by_number(data["ticket"])
        task = services.create_task(
            ticket=ticket,
            title=data["title"],
            actor=self.membership,
            assignee_id=data.get("assignee"),
            due_at=data.get("due_at"),
            remind_at=data.get("remind_at"),
            done=data.get("done", False),
        )
        response = _output(task)
        response.status_code = 201
        return response


class TaskDetailAPI(TenantAPIView):
    pagination_class = None

    @extend_schema(responses=TaskOutput)
    def get(self, request: Request, task_id: UUID) -> Response:
        return _output(selectors.get_task(task_id))

    @extend_schema(request=TaskUpdateInput, responses=TaskOutput)
    def patch(self, request: Request, task_id: UUID) -> Response:
        """Change a task; a new reminder time arms the reminder again."""
        task = selectors.get_task(task_id)
        data = self.validate(TaskUpdateInput, request.data)
        services.update_task(task=task, actor=self.membership, changes=data)
        return _output(task)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, task_id: UUID) -> Response:
        services.delete_task(task=selectors.get_task(task_id), actor=self.membership)
        return Response(status=204)
