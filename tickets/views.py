"""Agent pages: the inbox, a ticket with its conversation, and reports."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from departments import selectors as department_selectors
from helpdesk.core.errors import DomainError
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.decorators import member_required
from tickets import selectors, services
from tickets.errors import TicketNotFound
from tickets.forms import MessageForm, TicketFieldsForm
from tickets.models import MessageKind, TicketPriority, TicketStatus

INBOX_VIEWS = {
    "open": ("All open", {"status": TicketStatus.OPEN}),
    "mine": ("Mine", {"mine": True}),
    "unassigned": ("Unassigned", {"unassigned": True}),
    "waiting": ("Waiting on customer", {"status": TicketStatus.WAITING}),
    "on_hold": ("On hold", {"status": TicketStatus.ON_HOLD}),
    "solved": ("Solved", {"status": TicketStatus.SOLVED}),
    "closed": ("Closed", {"status": TicketStatus.CLOSED}),
}


@member_required
def home(request: HttpRequest) -> HttpResponse:
    return redirect("tickets:inbox")


@member_required
def inbox(request: HttpRequest) -> HttpResponse:
    view_key = request.GET.get("view", "open")
    if view_key not in INBOX_VIEWS:
        view_key = "open"
    title, spec = INBOX_VIEWS[view_key]
    membership = request.membership  # type: ignore[attr-defined]
    query = request.GET.get("q", "").strip()[:500]
    if query.startswith("#") and query[1:].isdigit():
        return redirect("tickets:ticket-detail", number=int(query[1:]))
    filters = selectors.TicketFilters(
        status=spec.get("status"),
        assignee_id=membership.id if spec.get("mine") else None,
        unassigned=bool(spec.get("unassigned")),
        q=query or None,
    )
    tickets = selectors.list_tickets(filters, language=request.tenant.language)  # type: ignore[attr-defined]
    ordering = ("-rank", "-updated_at") if query else ("-updated_at",)
    page = Paginator(tickets.order_by(*ordering), 50).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "views": INBOX_VIEWS,
        "view_key": view_key,
        "title": title,
        "query": query,
    }
    template = "tickets/inbox.html#ticket_list" if request.htmx else "tickets/inbox.html"  # type: ignore[attr-defined]
    response = render(request, template, context)
    response["Vary"] = "HX-Request"
    return response


def _ticket_context(request: HttpRequest, number: int, **extra: Any) -> dict[str, Any]:
    ticket = selectors.get_ticket_by_number(number)
    return {
        "ticket": ticket,
        "thread": list(selectors.list_thread(ticket)),
        "other_tickets": selectors.list_contact_tickets(ticket.contact, exclude_id=ticket.id),
        "departments": list(department_selectors.list_departments()),
        "agents": list(tenancy_selectors.list_agents()),
        "statuses": TicketStatus.choices,
        "priorities": TicketPriority.choices,
        "message_form": extra.pop("message_form", None)
        or MessageForm(
            initial={
                "kind": MessageKind.REPLY
                if request.membership.can_reply  # type: ignore[attr-defined]
                else MessageKind.NOTE
            }
        ),
        **extra,
    }


@member_required
def ticket_detail(request: HttpRequest, number: int) -> HttpResponse:
    try:
        context = _ticket_context(request, number)
    except TicketNotFound:
        return render(request, "errors/not_found.html", {"what": f"Ticket #{number}"}, status=404)
    fragment = request.GET.get("fragment") if request.htmx else None  # type: ignore[attr-defined]
    template = "tickets/ticket_detail.html"
    if fragment in {"sidebar", "conversation"}:
        template += f"#{fragment}"
    response = render(request, template, context)
    response["Vary"] = "HX-Request"
    return response


@member_required
@require_POST
def ticket_message(request: HttpRequest, number: int) -> HttpResponse:
    """Post a reply or note (htmx: answers with the refreshed conversation)."""
    ticket = selectors.get_ticket_by_number(number)
    form = MessageForm(request.POST)
    error = None
    if form.is_valid():
        try:
            services.add_message(
                ticket=ticket,
                kind=form.cleaned_data["kind"],
                body=form.cleaned_data["body"],
                status=form.cleaned_data["status"] or None,
                actor=request.membership,  # type: ignore[attr-defined]
                language=request.tenant.language,  # type: ignore[attr-defined]
            )
            form = None
        except DomainError as domain_error:
            error = str(domain_error)
    else:
        error = "Write a message first."
    if not request.htmx:  # type: ignore[attr-defined]
        if error:
            messages.error(request, error)
        return redirect("tickets:ticket-detail", number=number)
    context = _ticket_context(request, number, message_form=form, message_error=error)
    response = render(
        request, "tickets/ticket_detail.html#conversation", context, status=400 if error else 200
    )
    response["HX-Trigger"] = "ticket-updated"
    return response


@member_required
@require_POST
def ticket_update(request: HttpRequest, number: int) -> HttpResponse:
    """Change status, priority, department and assignee from the ticket sidebar."""
    ticket = selectors.get_ticket_by_number(number)
    form = TicketFieldsForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Those field values are not valid.")
        return redirect("tickets:ticket-detail", number=number)
    data = form.cleaned_data
    assignee_id: UUID | None = data.get("assignee")
    try:
        services.update_ticket(
            ticket=ticket,
            actor=request.membership,  # type: ignore[attr-defined]
            language=request.tenant.language,  # type: ignore[attr-defined]
            status=data["status"],
            priority=data["priority"],
            department=department_selectors.get_department(data["department"]),
            assignee=tenancy_selectors.get_member(assignee_id) if assignee_id else None,
        )
        messages.success(request, "Ticket updated.")
    except DomainError as error:
        messages.error(request, str(error))
    return redirect("tickets:ticket-detail", number=number)


@member_required
def reports(request: HttpRequest) -> HttpResponse:
    counts = selectors.count_by_status()
    rows = [(label, counts[value]) for value, label in TicketStatus.choices]
    return render(request, "tickets/reports.html", {"rows": rows, "total": sum(counts.values())})
