"""Agent pages: "My tasks", and the tasks panel of a ticket (tasks, "Remind me", "On hold
until"), loaded into the ticket page by htmx so the ticket page's own queries stay as they
are."""

from __future__ import annotations

import datetime
import zoneinfo
from typing import Any
from uuid import UUID

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from helpdesk.core.errors import DomainError
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.decorators import member_required
from helpdesk.tenancy.http import MemberHttpRequest
from helpdesk.tenancy.models import Membership
from tickets.errors import TaskInvalid, TicketNotFound
from tickets.models import Ticket
from tickets.reminders import selectors, services
from tickets.ticket import selectors as ticket_selectors


@member_required
def my_tasks(request: MemberHttpRequest) -> HttpResponse:
    """The agent's open tasks, overdue first."""
    now = timezone.now()
    tasks = list(selectors.list_my_tasks(member_id=request.membership.id, now=now)[:200])
    return render(request, "tickets/my_tasks.html", {"tasks": tasks, "now": now})


def _parse_local(value: str, zone: datetime.tzinfo) -> datetime.datetime | None:
    """A `datetime-local` field's value in the agent's zone; None when empty or invalid."""
    try:
        naive = datetime.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return naive if naive.tzinfo else naive.replace(tzinfo=zone)


@member_required
@require_http_methods(["GET", "POST"])
def ticket_tasks(request: MemberHttpRequest, number: int) -> HttpResponse:
    """The tasks panel of a ticket on its own (htmx; the ticket page draws it first with
    `{% ticket_tasks_panel %}`); POST `action`: add, done, reopen, delete, remind, hold."""
    try:
        ticket = ticket_selectors.get_ticket_by_number(number)
    except TicketNotFound:
        raise Http404("No such ticket.") from None
    member = request.membership
    zone = zoneinfo.ZoneInfo(timezone.get_current_timezone_name())
    error = ""
    status = 200
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "add":
                assignee = request.POST.get("assignee") or None
                services.create_task(
                    ticket=ticket,
                    title=request.POST.get("title", ""),
                    actor=member,
                    assignee_id=UUID(assignee) if assignee else None,
                    due_at=_parse_local(request.POST.get("due_at", ""), zone),
                    remind_at=_parse_local(request.POST.get("remind_at", ""), zone),
                )
            elif action in {"done", "reopen", "delete"}:
                task = selectors.get_task(UUID(request.POST.get("task", "")))
                if task.ticket_id != ticket.id:
                    raise TaskInvalid("That task is not on this ticket.")
                if action == "delete":
                    services.delete_task(task=task, actor=member)
                else:
                    services.update_task(
                        task=task, actor=member, changes={"done": action == "done"}
                    )
            elif action == "remind":
                at = _parse_local(request.POST.get("remind_at", ""), zone)
                if at is None:
                    raise TaskInvalid("Choose when to be reminded.")
                services.remind_me(
                    ticket=ticket, actor=member, at=at, title=request.POST.get("title", "")
                )
            elif action == "hold":
                until = _parse_local(request.POST.get("until", ""), zone)
                if until is None:
                    raise TaskInvalid("Choose until when the ticket is on hold.")
                services.hold_until(ticket=ticket, until=until, actor=member)
            else:
                raise TaskInvalid("Unknown action.")
        except ValueError:
            error, status = "That task is not valid.", 400
        except DomainError as refused:
            error, status = str(refused), refused.status
    response = render(request, "tickets/ticket_tasks.html", tasks_panel(ticket, error=error))
    response.status_code = status
    return response


def tasks_panel(
    ticket: Ticket, error: str = "", members: list[Membership] | None = None
) -> dict[str, Any]:
    """What the ticket's tasks panel shows: its tasks, the hold, whom a task may be for (the
    tenant's members, read here unless the page has them already)."""
    return {
        "ticket": ticket,
        "tasks": list(selectors.list_tasks(now=timezone.now(), ticket_id=ticket.id)),
        "members": tenancy_selectors.list_members() if members is None else members,
        "hold": selectors.get_hold(ticket.id),
        "error": error,
        "zone": timezone.get_current_timezone_name(),
    }
