"""Agent pages: the inbox, a ticket with its conversation, and reports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from departments import selectors as department_selectors
from helpdesk.core.errors import DomainError
from helpdesk.core.placeholders import KNOWN as KNOWN_PLACEHOLDERS
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.decorators import member_required
from tickets import configuration, inbox, notifications, presence, selectors, services, tracking
from tickets.errors import (
    AttachmentNotFound,
    InboundEmailNotFound,
    InvalidFilter,
    StaleReply,
    TicketNotFound,
)
from tickets.forms import MessageForm, TicketFieldsForm
from tickets.mail import intake
from tickets.mail import templates as mail_templates
from tickets.models import (
    CustomFieldTarget,
    EmailTemplateKind,
    InboundEmailStatus,
    MessageKind,
    NotificationKind,
    TicketPriority,
    TicketStatus,
)


@member_required
def home(request: HttpRequest) -> HttpResponse:
    return redirect("tickets:inbox")


@member_required
def inbox_page(request: HttpRequest) -> HttpResponse:
    """The unified inbox: a built-in or saved view, refined by filters, sorted, paginated."""
    membership = request.membership  # type: ignore[attr-defined]
    language = request.tenant.language  # type: ignore[attr-defined]
    params = {key: request.GET.get(key, "") for key in request.GET}
    query = params.get("q", "").strip()[:500]
    if query.startswith("#") and query[1:].isdigit():
        return redirect("tickets:ticket-detail", number=int(query[1:]))
    error = None
    try:
        key, title, filters, sort, tickets = inbox.inbox_tickets(
            params, reader=membership, language=language
        )
    except DomainError as domain_error:
        error = str(domain_error)
        key, title, filters, sort, tickets = inbox.inbox_tickets(
            {}, reader=membership, language=language
        )
    agents = list(tenancy_selectors.list_agents())
    # A narrow query (the customer joined, nothing else): the assignee and the custom
    # status come from lists already loaded, which keeps planning and building cheap.
    page = _page(
        tickets.select_related(None).select_related("contact"), request.GET.get("page", "1")
    )
    _attach_row_relations(page.object_list, agents)
    context = {
        "page": page,
        "views": inbox.BUILT_IN_VIEWS,
        "saved_views": list(inbox.list_saved_views(membership)),
        "departments": department_selectors.cached_departments(),
        "tags": selectors.list_tags(),
        "view_key": key,
        "title": title,
        "query": query,
        "filters": filters,
        "sort": sort,
        "sorts": inbox.SORT_LABELS,
        "due_states": inbox.DUE_STATES,
        "statuses": TicketStatus.choices,
        "priorities": configuration.priority_levels(),
        "agents": agents,
        "types": configuration.active_ticket_types(),
        "filter_error": error,
        "base_query": urlencode({k: v for k, v in request.GET.items() if k != "page"}),
        "now": timezone.now(),
    }
    template = "tickets/inbox.html#ticket_list" if request.htmx else "tickets/inbox.html"  # type: ignore[attr-defined]
    response = render(request, template, context, status=400 if error else 200)
    response["Vary"] = "HX-Request"
    return response


def _attach_row_relations(rows: list[Any], agents: list[Any]) -> None:
    """Give inbox rows their assignee and custom status from loaded lists; the few not in
    them (a deactivated agent, a retired status) in one query each."""
    members = {m.id: m for m in agents}
    statuses = {s.id: s for s in configuration.active_custom_statuses()}
    missing_members = {
        t.assignee_id for t in rows if t.assignee_id and t.assignee_id not in members
    }
    if missing_members:
        members.update({m.id: m for m in tenancy_selectors.get_members(missing_members)})
    missing_statuses = {
        t.custom_status_id
        for t in rows
        if t.custom_status_id and t.custom_status_id not in statuses
    }
    if missing_statuses:
        statuses.update({s.id: s for s in configuration.get_custom_statuses(missing_statuses)})
    for ticket in rows:
        ticket.assignee = members.get(ticket.assignee_id) if ticket.assignee_id else None
        ticket.custom_status = (
            statuses.get(ticket.custom_status_id) if ticket.custom_status_id else None
        )


@dataclass
class _Page:
    """A page of a list without counting the whole list (one row more tells if there is a
    next page): a count over a million tickets would cost more than the page itself."""

    object_list: list[Any]
    number: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_other_pages(self) -> bool:
        return self.has_next or self.has_previous

    @property
    def next_page_number(self) -> int:
        return self.number + 1

    @property
    def previous_page_number(self) -> int:
        return self.number - 1


def _page(rows: Any, raw_number: str, size: int = 50) -> _Page:
    digits = raw_number.isascii() and raw_number.isdigit()
    number = int(raw_number) if digits and 0 < int(raw_number) < 10_000 else 1
    fetched = list(rows[(number - 1) * size : number * size + 1])
    return _Page(fetched[:size], number, len(fetched) > size)


@member_required
@require_POST
def inbox_bulk(request: HttpRequest) -> HttpResponse:
    """Apply one action to the selected tickets, then back to the same inbox view."""
    membership = request.membership  # type: ignore[attr-defined]
    numbers = [int(n) for n in request.POST.getlist("tickets") if n.isascii() and n.isdigit()]
    action = request.POST.get("action", "")
    back = request.POST.get("next", "")
    back = back if back.startswith("/inbox/") else reverse("tickets:inbox")
    if not numbers:
        messages.error(request, "Select tickets first.")
        return redirect(back)
    try:
        value = _bulk_value(action, request.POST.get("value", ""), membership)
        result = inbox.bulk_update(
            numbers=numbers,
            action=action,
            value=value,
            actor=membership,
            language=request.tenant.language,  # type: ignore[attr-defined]
        )
    except DomainError as error:
        messages.error(request, str(error))
        return redirect(back)
    if result.done:
        messages.success(request, f"Updated {len(result.done)} ticket(s).")
    for number, reason in result.failed:
        messages.error(request, f"#{number}: {reason}")
    return redirect(back)


def _bulk_value(action: str, raw: str, membership: Any) -> Any:
    """The value a bulk action needs, loaded through the tenant scope."""
    if action == "assign":
        if raw == "me":
            return membership
        try:
            return tenancy_selectors.get_member(UUID(raw)) if raw else None
        except ValueError:
            raise InvalidFilter("Choose an agent.", parameter="value") from None
    if action == "department":
        try:
            return department_selectors.get_department(UUID(raw))
        except ValueError:
            raise InvalidFilter("Choose a department.", parameter="value") from None
    if action in {"status", "priority", "tag"} and not raw:
        raise InvalidFilter(f"Choose a {action}.", parameter="value")
    return raw


@member_required
@require_POST
def saved_view_create(request: HttpRequest) -> HttpResponse:
    """Save the current filters and sort as a named view."""
    membership = request.membership  # type: ignore[attr-defined]
    filters = inbox.filter_params({k: request.POST.get(k, "") for k in request.POST})
    try:
        view = inbox.save_view(
            owner=membership,
            name=request.POST.get("name", ""),
            filters=filters,
            sort=request.POST.get("sort", "-updated") or "-updated",
            is_shared=request.POST.get("is_shared") == "on",
        )
    except DomainError as error:
        messages.error(request, str(error))
        return redirect(f"{reverse('tickets:inbox')}?{urlencode(filters)}")
    messages.success(request, f"View “{view.name}” saved.")
    return redirect(f"{reverse('tickets:inbox')}?saved={view.id}")


@member_required
@require_POST
def saved_view_delete(request: HttpRequest, view_id: UUID) -> HttpResponse:
    membership = request.membership  # type: ignore[attr-defined]
    try:
        inbox.delete_view(view=inbox.get_saved_view(view_id, reader=membership), actor=membership)
        messages.success(request, "View deleted.")
    except DomainError as error:
        messages.error(request, str(error))
    return redirect("tickets:inbox")


EVENT_LABELS = {
    "custom_status": "status",
    "due_at": "due date",
    "merged": "merged in ticket",
    "merged_into": "merged into ticket",
    "split": "split a message into ticket",
    "split_from": "split from ticket",
    "follow_up": "follow-up ticket",
    "delivery": "email delivery",
    "contact": "customer",
}
TICKET_REFERENCES = {"merged", "merged_into", "split", "split_from", "follow_up"}


def _show_event_value(field: str, value: Any, members: dict[str, str]) -> str:
    if value in (None, "", []):
        return "nobody" if field == "assignee" else "none"
    if field == "assignee":
        return members.get(str(value), "a former agent")
    if field == "status":
        return str(dict(TicketStatus.choices).get(value, value))
    if field in TICKET_REFERENCES:
        return f"#{value}"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _describe_events(thread: list[Any], members: dict[str, str]) -> None:
    """Readable labels and from/to values for the history (member ids become names)."""
    for message in thread:
        if message.kind != MessageKind.EVENT:
            continue
        event = message.event or {}
        field = str(event.get("field", ""))
        message.event_label = EVENT_LABELS.get(
            field, field.replace("custom_fields.", "").replace("_", " ")
        )
        old = event.get("from")
        message.event_from = "" if old is None else _show_event_value(field, old, members)
        message.event_to = _show_event_value(field, event.get("to"), members)
        message.event_via_open = event.get("via") == "opened"


def _ticket_context(
    request: HttpRequest, number: int, ticket: Any = None, **extra: Any
) -> dict[str, Any]:
    ticket = ticket or selectors.get_ticket_for_page(number)
    membership = request.membership  # type: ignore[attr-defined]
    thread = list(selectors.list_thread(ticket))
    everyone = list(tenancy_selectors.list_members())
    members = {str(m.id): m.user.display_name for m in everyone}
    _describe_events(thread, members)
    latest = next((m.id for m in reversed(thread) if m.kind != MessageKind.EVENT), None)
    return {
        "ticket": ticket,
        "thread": thread,
        "history": [m for m in reversed(thread) if m.kind == MessageKind.EVENT],
        "seen_up_to": extra.pop("seen_up_to", None) or latest,
        "other_tickets": selectors.list_contact_tickets(ticket.contact, exclude_id=ticket.id),
        "followers": selectors.list_followers(ticket),
        "departments": department_selectors.cached_departments(),
        "agents": [m for m in everyone if m.can_reply],
        "statuses": TicketStatus.choices,
        # The ticket's own values stay choosable even when no longer offered (an inactive
        # type or status, a priority level the tenant dropped): saving must not change them.
        "custom_statuses": _with_current(
            configuration.active_custom_statuses(), ticket.custom_status
        ),
        "priorities": _with_current_priority(configuration.priority_levels(), ticket.priority),
        "types": _with_current(configuration.active_ticket_types(), ticket.type),
        "custom_fields": configuration.display_values(
            CustomFieldTarget.TICKET, ticket.custom_fields
        ),
        "tag_names": ", ".join(ticket.tag_names or []),
        "now": timezone.now(),
        "message_form": extra.pop("message_form", None)
        or MessageForm(
            initial={"kind": MessageKind.REPLY if membership.can_reply else MessageKind.NOTE}
        ),
        **extra,
    }


def _with_current(active: list[Any], current: Any) -> list[Any]:
    return active if current is None or current in active else [*active, current]


def _with_current_priority(levels: list[Any], current: str) -> list[Any]:
    if any(level.value == current for level in levels):
        return levels
    return [*levels, configuration.PriorityLevel(current, TicketPriority(current).label)]


@member_required
def ticket_detail(request: HttpRequest, number: int) -> HttpResponse:
    membership = request.membership  # type: ignore[attr-defined]
    fragment = request.GET.get("fragment") if request.htmx else None  # type: ignore[attr-defined]
    try:
        ticket = selectors.get_ticket_for_page(number)
    except TicketNotFound:
        return render(request, "errors/not_found.html", {"what": f"Ticket #{number}"}, status=404)
    if ticket.merged_into_id and not fragment:
        survivor = selectors.get_ticket(ticket.merged_into_id)
        messages.info(request, f"#{number} was merged into #{survivor.number}.")
        return redirect("tickets:ticket-detail", number=survivor.number)
    if not fragment and services.open_ticket(ticket=ticket, member=membership):
        messages.info(request, "You opened an unassigned ticket: it is yours now.")
    context = _ticket_context(request, number, ticket=ticket)
    template = "tickets/ticket_detail.html"
    if fragment in {"sidebar", "conversation"}:
        template += f"#{fragment}"
    response = render(request, template, context)
    response["Vary"] = "HX-Request"
    return response


@member_required
@require_POST
def ticket_presence(request: HttpRequest, number: int) -> HttpResponse:
    """Ping from an open ticket page (every 2 s): record this agent's state and answer with
    who else is here and whether new messages arrived since the page loaded."""
    membership = request.membership  # type: ignore[attr-defined]
    ticket = selectors.get_ticket_by_number(number)
    tenant_id = request.tenant.id  # type: ignore[attr-defined]
    if request.POST.get("state") == "left":
        presence.leave(tenant_id=tenant_id, ticket_id=ticket.id, member=membership)
        return HttpResponse(status=204)
    presence.touch(
        tenant_id=tenant_id,
        ticket_id=ticket.id,
        member=membership,
        state=request.POST.get("state", "viewing"),
    )
    newer: list[Any] = []
    try:
        seen = UUID(request.POST.get("seen_up_to", ""))
        newer = selectors.list_messages_after(ticket, seen, exclude_author=membership)
    except ValueError:
        pass
    others = presence.others_present(tenant_id=tenant_id, ticket_id=ticket.id, member=membership)
    return render(
        request, "tickets/presence.html", {"others": others, "newer": newer, "ticket": ticket}
    )


@member_required
@require_POST
def ticket_message(request: HttpRequest, number: int) -> HttpResponse:
    """Post a reply or note (htmx: answers with the refreshed conversation)."""
    ticket = selectors.get_ticket_by_number(number)
    form = MessageForm(request.POST, request.FILES)
    error = None
    stale: list[str] = []
    seen_up_to = None
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
                seen_up_to=form.cleaned_data["seen_up_to"],
            )
            form = None
        except StaleReply as stale_error:
            error = (
                "New messages arrived while you were writing (highlighted below). "
                "Read them, then send again or edit your reply."
            )
            stale, seen_up_to = stale_error.details["messages"], stale_error.details["latest"]
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
    context = _ticket_context(
        request,
        number,
        message_form=form,
        message_error=error,
        stale_ids={UUID(i) for i in stale},
        seen_up_to=seen_up_to,
    )
    status = 409 if stale else 400 if error else 200
    response = render(request, "tickets/ticket_detail.html#conversation", context, status=status)
    response["HX-Trigger"] = "ticket-updated"
    return response


@member_required
@require_POST
def ticket_update(request: HttpRequest, number: int) -> HttpResponse:
    """Change the ticket's fields from the sidebar; every change lands in the history."""
    ticket = selectors.get_ticket_by_number(number)
    form = TicketFieldsForm(request.POST)
    if not form.is_valid():
        messages.error(
            request, " ".join(f"{k}: {e}" for k, errors in form.errors.items() for e in errors)
        )
        return redirect("tickets:ticket-detail", number=number)
    data = form.cleaned_data
    try:
        changes: dict[str, Any] = {
            "priority": data["priority"],
            "department": department_selectors.get_department(data["department"]),
            "assignee": tenancy_selectors.get_member(data["assignee"])
            if data.get("assignee")
            else None,
            "type": configuration.get_ticket_type(data["type"]) if data.get("type") else None,
            "due_at": data.get("due_at"),
            "tags": [t for t in data.get("tags", "").split(",") if t.strip()],
            "custom_fields": {
                field.key: request.POST.get(f"cf_{field.key}", "")
                for field in configuration.list_custom_fields(CustomFieldTarget.TICKET)
            },
        }
        status = data["status"]
        if status.startswith("custom:"):
            changes["custom_status"] = configuration.get_custom_status(status.split(":", 1)[1])
        else:
            changes["status"], changes["custom_status"] = status, None
        services.update_ticket(
            ticket=ticket,
            actor=request.membership,  # type: ignore[attr-defined]
            language=request.tenant.language,  # type: ignore[attr-defined]
            **changes,
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
