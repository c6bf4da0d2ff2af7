"""Agent pages: the inbox, a ticket with its conversation, and reports."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from departments import selectors as department_selectors
from helpdesk.core.errors import DomainError
from helpdesk.core.placeholders import KNOWN as KNOWN_PLACEHOLDERS
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.decorators import member_required
from tickets import notifications, selectors, services, tracking
from tickets.errors import AttachmentNotFound, InboundEmailNotFound, TicketNotFound
from tickets.forms import MessageForm, TicketFieldsForm
from tickets.mail import intake
from tickets.mail import templates as mail_templates
from tickets.models import (
    EmailTemplateKind,
    InboundEmailStatus,
    MessageKind,
    NotificationKind,
    TicketPriority,
    TicketStatus,
)

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
    form = MessageForm(request.POST, request.FILES)
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
                attachments=services.attachments_from_uploads(request.FILES.getlist("attachments")),
            )
            form = None
        except DomainError as domain_error:
            error = str(domain_error)
    else:
        error = (
            "Write a message first."
            if "body" in form.errors
            else " ".join(str(e) for errors in form.errors.values() for e in errors)
        )
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


SAFE_INLINE_TYPES = {
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
    "text/plain",
}


@member_required
def attachment(request: HttpRequest, attachment_id: UUID) -> HttpResponse:
    """An attachment of a message of this tenant. Only inert types are shown inline."""
    try:
        item = selectors.get_attachment(attachment_id)
    except AttachmentNotFound:
        return render(request, "errors/not_found.html", {"what": "That attachment"}, status=404)
    inline = item.content_type in SAFE_INLINE_TYPES
    response = FileResponse(
        item.file.open("rb"),
        as_attachment=not inline,
        filename=item.filename,
        content_type=item.content_type if inline else "application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'; img-src 'self'"
    return response


@member_required(admin=True)
def inbound_log(request: HttpRequest) -> HttpResponse:
    """Every inbound mail with its status and reason; filter by status."""
    status = request.GET.get("status", "")
    if status not in InboundEmailStatus.values:
        status = ""
    page = Paginator(selectors.list_inbound_emails(status=status or None), 50).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "tickets/inbound_log.html",
        {"page": page, "status": status, "statuses": InboundEmailStatus.choices},
    )


@member_required(admin=True)
def inbound_detail(request: HttpRequest, email_id: UUID) -> HttpResponse:
    try:
        email = selectors.get_inbound_email(email_id)
    except InboundEmailNotFound:
        return render(request, "errors/not_found.html", {"what": "That mail"}, status=404)
    return render(request, "tickets/inbound_detail.html", {"email": email})


@member_required(admin=True)
def inbound_raw(request: HttpRequest, email_id: UUID) -> HttpResponse:
    """The original bytes as received, shown as text (never rendered as HTML)."""
    try:
        email = selectors.get_inbound_email(email_id)
    except InboundEmailNotFound:
        return render(request, "errors/not_found.html", {"what": "That mail"}, status=404)
    response = HttpResponse(bytes(email.raw), content_type="text/plain; charset=utf-8")
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = f'inline; filename="{email.id}.eml"'
    return response


@member_required(admin=True)
@require_POST
def inbound_retry(request: HttpRequest, email_id: UUID) -> HttpResponse:
    try:
        email = selectors.get_inbound_email(email_id)
        intake.retry_inbound_email(email=email)
        messages.success(request, "The mail is queued to be processed again.")
    except InboundEmailNotFound:
        return render(request, "errors/not_found.html", {"what": "That mail"}, status=404)
    except DomainError as error:
        messages.error(request, str(error))
    return redirect("tickets:inbound-detail", email_id=email_id)


@member_required
def notification_settings(request: HttpRequest) -> HttpResponse:
    """The agent's email notifications, one switch per kind."""
    member = request.membership  # type: ignore[attr-defined]
    if request.method == "POST":
        for kind in NotificationKind.values:
            notifications.set_email_enabled(
                member=member, kind=kind, enabled=request.POST.get(kind) == "on"
            )
        messages.success(request, "Notification settings saved.")
        return redirect("tickets:notification-settings")
    current = notifications.settings_for(member)
    rows = [(kind, label, current[kind]) for kind, label in NotificationKind.choices]
    return render(request, "tickets/notification_settings.html", {"rows": rows})


TEMPLATE_FIELDS = {
    EmailTemplateKind.LAYOUT: ("header", "footer"),
    EmailTemplateKind.REPLY: ("body",),
}


@member_required(admin=True)
def email_templates(request: HttpRequest) -> HttpResponse:
    """Every kind of customer email, with the tenant's and each department's wording."""
    custom = selectors.list_custom_templates()
    departments = list(department_selectors.list_departments())
    rows = [
        {
            "kind": kind,
            "label": label,
            "custom": (kind, None) in custom,
            "overrides": [d for d in departments if (kind, d.id) in custom],
        }
        for kind, label in EmailTemplateKind.choices
    ]
    return render(
        request, "tickets/email_templates.html", {"rows": rows, "departments": departments}
    )


@member_required(admin=True)
def email_template_edit(request: HttpRequest, kind: str) -> HttpResponse:
    """Edit one template (tenant-wide, or `?department=<id>`), with a sample preview."""
    if kind not in EmailTemplateKind.values:
        return render(request, "errors/not_found.html", {"what": "That template"}, status=404)
    department = None
    if request.GET.get("department"):
        try:
            department = department_selectors.get_department(request.GET["department"])
        except (DomainError, ValueError):
            return render(request, "errors/not_found.html", {"what": "That department"}, status=404)
    fields = TEMPLATE_FIELDS.get(EmailTemplateKind(kind), ("subject", "body"))
    current = mail_templates.effective_template(kind, department.id if department else None)
    values = {name: request.POST.get(name, getattr(current, name)) for name in fields}
    preview, error = None, None
    if request.method == "POST":
        action = request.POST.get("action", "save")
        try:
            if action == "reset":
                mail_templates.reset_template(kind=kind, department=department)
                messages.success(request, "Back to the inherited wording.")
                return redirect(request.get_full_path())
            if action == "preview":
                preview = mail_templates.preview(**values)
            else:
                mail_templates.save_template(kind=kind, department=department, **values)
                messages.success(request, "Template saved.")
                return redirect(request.get_full_path())
        except DomainError as domain_error:
            error = str(domain_error)
    return render(
        request,
        "tickets/email_template_form.html",
        {
            "kind": kind,
            "label": EmailTemplateKind(kind).label,
            "department": department,
            "values": values,
            "preview": preview,
            "error": error,
            "placeholders": [
                p
                for p in KNOWN_PLACEHOLDERS
                if p != "reply.body" or kind == EmailTemplateKind.REPLY
            ],
        },
        status=400 if error else 200,
    )


def ticket_tracking(request: HttpRequest, token: str) -> HttpResponse:
    """The customer's view of one ticket (signed link, no login): status and the public
    conversation. Internal notes and events are never shown."""
    ticket_id = tracking.ticket_id_from_token(token)
    ticket = selectors.get_public_ticket(ticket_id) if ticket_id else None
    if ticket is None or getattr(request, "tenant", None) is None:
        return render(request, "errors/not_found.html", {"what": "That request"}, status=404)
    response = render(
        request,
        "tickets/tracking.html",
        {"ticket": ticket, "thread": selectors.list_public_thread(ticket)},
    )
    response["X-Robots-Tag"] = "noindex"
    response["Referrer-Policy"] = "no-referrer"
    return response
