"""The ticket page: conversation, fields, history, presence, replies and notes."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.http import FileResponse, HttpRequest, HttpResponse, QueryDict
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.views.decorators.http import require_POST

from departments import selectors as department_selectors
from helpdesk.accounts.activity import passive
from helpdesk.core import csp
from helpdesk.core.errors import DomainError
from helpdesk.core.views import not_found_page
from helpdesk.tenancy import permissions
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.decorators import member_required
from helpdesk.tenancy.http import MemberHttpRequest
from helpdesk.tenancy.permissions import Capability
from tickets.articles import selectors as article_selectors
from tickets.articles import services as article_services
from tickets.configuration import services as configuration
from tickets.contacts import selectors as contact_selectors
from tickets.errors import (
    AttachmentNotFound,
    FollowerNotFound,
    ReplyNotAllowed,
    StaleReply,
    TicketNotFound,
)
from tickets.mail_in import html as html_tools
from tickets.mail_out import tracking
from tickets.models import (
    RESOLVED_STATUSES,
    CustomFieldTarget,
    MessageKind,
    SlaMetric,
    TicketPriority,
    TicketStatus,
)
from tickets.satisfaction import selectors as satisfaction_selectors
from tickets.satisfaction import services as satisfaction
from tickets.ticket import formatting, merging, presence, selectors, services
from tickets.ticket.forms import (
    ForwardForm,
    MessageForm,
    NewTicketForm,
    TicketFieldsForm,
    inline_images,
)

EVENT_LABELS = {
    "custom_status": "status",
    "due_at": "due date",
    "sla_breach": "SLA target missed",
    "merged": "merged in ticket",
    "merged_into": "merged into ticket",
    "split": "split a message into ticket",
    "split_from": "split from ticket",
    "follow_up": "follow-up ticket",
    "delivery": "email delivery",
    "contact": "customer",
    "satisfaction": "satisfaction rating",
    "phone_call": "phone call",
}
TICKET_REFERENCES = {"merged", "merged_into", "split", "split_from", "follow_up"}
# Assignment done by the system on its own (automation.assignment, releasing a member's
# tickets): the sentence says how, with the agent's name filled in.
ASSIGNED_VIA = {
    "round_robin": "Assigned to {to} by round-robin",
    "load_balanced": "Assigned to {to} by load balancing (fewest open tickets)",
    "left_department": "{from_} left the department: back in its queue",
    "went_offline": "{from_} went offline: back in the department's queue",
    "unassignable": "{from_} can no longer take tickets: back in the queue",
}
# Events that read as what someone did, not "changed X to Y" (the ticket number filled in).
EVENT_ACTIONS = {
    "merged": "merged #{} into this ticket",
    "merged_into": "merged this ticket into #{}",
    "split": "split a message into #{}",
    "split_from": "split this ticket from #{}",
    "phone_call": "logged the phone call",
}


def _show_event_value(
    field: str, value: Any, members: dict[str, str], priorities: dict[str, str]
) -> str:
    if value in (None, "", []):
        return "nobody" if field == "assignee" else "none"
    if field == "assignee":
        return members.get(str(value), "a former agent")
    if field == "status":
        return str(dict(TicketStatus.choices).get(value, value))
    if field == "priority":  # the tenant's name for the level (Settings → Tickets)
        return priorities.get(value) or str(dict(TicketPriority.choices).get(value, value))
    if field == "satisfaction":
        return satisfaction.SCORE_NAMES.get(value, str(value))
    if field in TICKET_REFERENCES:
        return f"#{value}"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _describe_events(thread: list[Any], members: dict[str, str]) -> None:
    """Readable labels and from/to values for the history (member ids become names)."""
    priorities = configuration.priority_labels()
    for message in thread:
        if message.kind != MessageKind.EVENT:
            continue
        event = message.event or {}
        field = str(event.get("field", ""))
        message.event_label = EVENT_LABELS.get(
            field, field.replace("custom_fields.", "").replace("_", " ")
        )
        old = event.get("from")
        message.event_from = (
            "" if old is None else _show_event_value(field, old, members, priorities)
        )
        message.event_to = _show_event_value(field, event.get("to"), members, priorities)
        message.event_via_open = event.get("via") == "opened"
        action = EVENT_ACTIONS.get(field)
        message.event_action = action.format(event.get("to")) if action else ""
        if field == "follow_up":
            message.event_sentence = (
                f"The customer wrote again: follow-up ticket #{event.get('to')}"
            )
        if field == "followers":  # added or removed from the reply editor
            if event.get("to"):
                message.event_action = f"copied {event['to']} on every reply (follower)"
            else:
                message.event_action = f"stopped copying {event.get('from')} on replies"
        if field == "sla_breach":
            metric = dict(SlaMetric.choices).get(str(event.get("to")), "an SLA")
            message.event_sentence = f"{metric} target missed"
        if field == "rule_skipped":  # a workflow rule's action that could not be done
            rule = (event.get("rule") or {}).get("name", "")
            action = str(event.get("from") or "act").replace("_", " ")
            message.event_sentence = f"Rule “{rule}” could not {action}: {event.get('to')}"
        if field == "external_task":  # automation.integrations: an item made in a tool
            to = event.get("to")
            linked: dict[str, Any] = to if isinstance(to, dict) else {}
            message.event_action = (
                f"created {linked.get('integration', 'a task')} {linked.get('id', '')}".rstrip()
            )
            link = str(linked.get("url") or "")
            message.event_link = link if link.startswith(("https://", "http://")) else ""
        if field == "assignee" and str(event.get("via")) in ASSIGNED_VIA:
            message.event_sentence = ASSIGNED_VIA[str(event["via"])].format(
                to=message.event_to, from_=message.event_from or "nobody"
            )


# A stand-in id: each URL of a message's actions is reversed once a page and the message's
# (or attachment's) own id put in its place, rather than one `{% url %}` per message.
_PLACEHOLDER = "00000000-0000-4000-8000-000000000000"


def _add_message_urls(number: int, thread: list[Any]) -> None:
    """Each message's action URLs (forward, split, save as canned) and each attachment's."""
    forward = reverse("tickets:message-forward", args=[number, _PLACEHOLDER])
    split = reverse("tickets:message-split", args=[number, _PLACEHOLDER])
    canned = reverse("automation:save-reply-as-canned", args=[_PLACEHOLDER])
    attachment = reverse("tickets:attachment", args=[_PLACEHOLDER])
    for message in thread:
        own = str(message.id)
        message.forward_url = forward.replace(_PLACEHOLDER, own)
        message.split_url = split.replace(_PLACEHOLDER, own)
        message.canned_url = canned.replace(_PLACEHOLDER, own)
        for item in message.attachments.all():
            item.page_url = attachment.replace(_PLACEHOLDER, str(item.id))


def _ticket_context(
    request: MemberHttpRequest, number: int, ticket: Any = None, **extra: Any
) -> dict[str, Any]:
    ticket = ticket or selectors.get_ticket_for_page(number)
    membership = request.membership
    thread = list(selectors.list_thread(ticket))
    everyone = list(tenancy_selectors.list_members())
    members = {str(m.id): m.user.display_name for m in everyone}
    _describe_events(thread, members)
    mail: Any
    for mail in thread:
        if mail.body_html and mail.author_contact_id:
            # A mail shows formatted, its quoted history collapsed as in the text.
            mail.html_new, mail.html_quoted = html_tools.split_html_quote(
                mail.body_html, mail.quoted_text
            )
    _add_message_urls(number, thread)
    latest = next((m.id for m in reversed(thread) if m.kind != MessageKind.EVENT), None)
    survey, past_ratings = satisfaction_selectors.list_ticket_satisfaction(ticket, limit=5)
    now = timezone.now()
    stored_status = extra.pop("stored_status", ticket.status)
    reachable = {ticket.status, stored_status, *services.TICKET_TRANSITIONS[stored_status]}
    return {
        "ticket": ticket,
        "thread": thread,
        "history": [m for m in reversed(thread) if m.kind == MessageKind.EVENT],
        "seen_up_to": extra.pop("seen_up_to", None) or latest,
        "other_tickets": contact_selectors.list_contact_tickets(
            ticket.contact, exclude_id=ticket.id
        ),
        "survey": survey,
        "past_ratings": past_ratings,
        "followers": ticket.copied_contacts,
        "departments": department_selectors.cached_departments(),
        "agents": permissions.who_may(everyone, Capability.TAKE_TICKETS),
        # Whom a task may be for, in the tasks panel the sidebar draws (`ticket_tasks_panel`).
        "members": everyone,
        # @mention autocomplete in notes: everyone who can be mentioned, by their handle.
        "mentionable": [
            (m.user.email.split("@", 1)[0], m.user.display_name)
            for m in everyone
            if m.id != membership.id
        ],
        "denied_change": permissions.DENIED[Capability.CHANGE_TICKETS],
        # Only the statuses the ticket can move to (and its own).
        "statuses": [(v, label) for v, label in TicketStatus.choices if v in reachable],
        # The ticket's own values stay choosable even when no longer offered (an inactive
        # type or status, a priority level the tenant dropped): saving must not change them.
        "custom_statuses": _with_current(
            [c for c in configuration.active_custom_statuses() if c.base_status in reachable],
            ticket.custom_status,
        ),
        "priorities": _with_current_priority(configuration.priority_levels(), ticket.priority),
        "types": _with_current(configuration.active_ticket_types(), ticket.type),
        "custom_fields": configuration.display_values(
            CustomFieldTarget.TICKET, ticket.custom_fields
        ),
        "tag_names": ", ".join(ticket.tag_names or []),
        "knowledge": article_selectors.KnowledgePanel(ticket, membership),
        "now": now,
        "message_form": extra.pop("message_form", None)
        or MessageForm(
            initial={
                "kind": MessageKind.REPLY
                if permissions.can_reply_publicly(membership)
                else MessageKind.NOTE
            }
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
def ticket_detail(request: MemberHttpRequest, number: int) -> HttpResponse:
    membership = request.membership
    fragment = request.GET.get("fragment") if request.htmx else None
    try:
        ticket = selectors.get_ticket_for_page(number)
    except TicketNotFound:
        return not_found_page(request, f"Ticket #{number}")
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
    else:
        context["remote_images_message_id"] = _remote_images_consent(request, context["thread"])
        context["others_here"] = _arrive(request, ticket)
    response = render(request, template, context)
    response["Vary"] = "HX-Request"
    if context.get("remote_images_message_id"):
        csp.allow_remote_images(response)
    return response


def _arrive(request: MemberHttpRequest, ticket: Any) -> list[Any]:
    """Who else is on the ticket, for a whole ticket page: drawing it counts as the agent's
    first presence ping (the others learn of them now; the page pings every 2 s after)."""
    tenant_id, membership = request.tenant.id, request.membership
    presence.touch(tenant_id=tenant_id, ticket_id=ticket.id, member=membership, state="viewing")
    return presence.others_present(tenant_id=tenant_id, ticket_id=ticket.id, member=membership)


def _remote_images_consent(request: HttpRequest, thread: list[Any]) -> UUID | None:
    """The message whose remote images the agent asked to see (`?remote_images=<id>`): one
    of this ticket's mails that has some. Anything else shows the page with them blocked."""
    try:
        wanted = UUID(request.GET.get("remote_images", ""))
    except ValueError:
        return None
    for message in thread:
        if message.id == wanted and "data-remote-src" in (message.body_html or ""):
            return wanted
    return None


@passive
@member_required
@require_POST
def ticket_presence(request: MemberHttpRequest, number: int) -> HttpResponse:
    """Ping from an open ticket page (every 2 s): record this agent's state and answer with
    who else is here and whether new messages arrived since the page loaded."""
    membership = request.membership
    ticket = selectors.get_ticket_by_number(number)
    tenant_id = request.tenant.id
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
def ticket_message(request: MemberHttpRequest, number: int) -> HttpResponse:
    """Post a reply or note (htmx: answers with the refreshed conversation)."""
    ticket = selectors.get_ticket_by_number(number)
    form = MessageForm(request.POST, request.FILES)
    shown_form: MessageForm | None = form  # None after a send: the editor starts empty
    error = None
    stale: list[str] = []
    seen_up_to = None
    if form.is_valid():
        try:
            message = services.add_message(
                ticket=ticket,
                kind=form.cleaned_data["kind"],
                body=form.cleaned_data["body"],
                status=form.cleaned_data["status"] or None,
                actor=request.membership,
                language=request.tenant.language,
                attachments=services.attachments_from_uploads(request.FILES.getlist("attachments")),
                seen_up_to=form.cleaned_data["seen_up_to"],
                body_format=form.cleaned_data["body_format"] or services.BodyFormat.TEXT,
                inline_images=inline_images(request.FILES),
                cc=form.cleaned_data["cc"],
                bcc=form.cleaned_data["bcc"],
            )
            # The articles the editor inserted that the sent reply still carries.
            article_services.record_sent_articles(
                message=message,
                article_ids=request.POST.getlist("articles"),
                actor=request.membership,
            )
            shown_form = None
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
    if not request.htmx:
        if error:
            messages.error(request, error)
        return redirect("tickets:ticket-detail", number=number)
    context = _ticket_context(
        request,
        number,
        message_form=shown_form,
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
def ticket_update(request: MemberHttpRequest, number: int) -> HttpResponse:
    """Change the ticket's fields from the sidebar; every change lands in the history."""
    if not permissions.can(request.membership, Capability.CHANGE_TICKETS):
        # A shortcut a light agent may not use: say why, not which form field was empty.
        messages.error(request, permissions.DENIED[Capability.CHANGE_TICKETS])
        return redirect("tickets:ticket-detail", number=number)
    ticket = selectors.get_ticket_by_number(number)
    form = TicketFieldsForm(request.POST)
    if not form.is_valid():
        messages.error(
            request, " ".join(f"{k}: {e}" for k, errors in form.errors.items() for e in errors)
        )
        return redirect("tickets:ticket-detail", number=number)
    data = form.cleaned_data
    edited = _edited_fields(request)
    try:
        changes: dict[str, Any] = {}
        if "priority" in edited:
            changes["priority"] = data["priority"]
        if "department" in edited:
            changes["department"] = department_selectors.get_department(data["department"])
        if "assignee" in edited:
            changes["assignee"] = (
                tenancy_selectors.get_member(data["assignee"]) if data.get("assignee") else None
            )
        if "type" in edited:
            changes["type"] = (
                configuration.get_ticket_type(data["type"]) if data.get("type") else None
            )
        if "due_at" in edited:
            changes["due_at"] = data.get("due_at")
        if "tags" in edited:
            changes["tags"] = [t for t in data.get("tags", "").split(",") if t.strip()]
        custom_fields = {
            key: value
            for key, value in _posted_custom_fields(request).items()
            if f"cf_{key}" in edited
        }
        if custom_fields:
            changes["custom_fields"] = custom_fields
        if "status" in edited and form.custom_status_id:
            changes["custom_status"] = configuration.get_custom_status(form.custom_status_id)
        elif "status" in edited:
            changes["status"], changes["custom_status"] = data["status"], None
        services.update_ticket(
            ticket=ticket,
            actor=request.membership,
            language=request.tenant.language,
            **changes,
        )
    except DomainError as error:
        # Nothing was saved (one transaction): show the page again with what was chosen,
        # so one refused change does not cost the others.
        return _refused_fields(request, number, form, str(error))
    messages.success(request, "Ticket updated.")
    return redirect("tickets:ticket-detail", number=number)


def _edited_fields(request: HttpRequest) -> set[str]:
    """The sidebar fields this agent changed: those whose posted value differs from the
    form as it was shown (`original`, which app.js fills in when the sidebar loads), so a
    save never puts back what another agent changed meanwhile. Without it (no script),
    every field posted."""
    posted = set(request.POST) - {"csrfmiddlewaretoken", "original"}
    raw = request.POST.get("original", "")
    if not raw:
        return posted
    original = QueryDict(raw)
    return {
        name
        for name in (posted | set(original)) - {"csrfmiddlewaretoken", "original"}
        if request.POST.getlist(name) != original.getlist(name)
    }


def _posted_custom_fields(request: HttpRequest) -> dict[str, str]:
    """The sidebar's custom field values as posted (a checkbox: the last of hidden + box)."""
    return {
        field.key: request.POST.get(f"cf_{field.key}", "")
        for field in configuration.list_custom_fields(CustomFieldTarget.TICKET)
    }


def _refused_fields(
    request: MemberHttpRequest, number: int, form: TicketFieldsForm, error: str
) -> HttpResponse:
    data = form.cleaned_data
    ticket = selectors.get_ticket_for_page(number)
    stored_status = ticket.status
    ticket.custom_status_id = form.custom_status_id
    if ticket.custom_status_id is None:
        ticket.status = data["status"]
    ticket.priority = data["priority"]
    ticket.department_id = data["department"]
    ticket.assignee_id = data.get("assignee") or None
    ticket.type_id = data.get("type") or None
    ticket.due_at = data.get("due_at")
    checkboxes = {
        field.key
        for field in configuration.list_custom_fields(CustomFieldTarget.TICKET)
        if field.type == "checkbox"
    }
    posted = _posted_custom_fields(request)
    ticket.custom_fields = {
        **ticket.custom_fields,
        **{key: value == "true" if key in checkboxes else value for key, value in posted.items()},
    }
    context = _ticket_context(
        request, number, ticket=ticket, fields_error=error, stored_status=stored_status
    )
    context["tag_names"] = data.get("tags", "")
    # The form as first shown stays the reference: saving again sends what was changed.
    context["sidebar_original"] = request.POST.get("original", "")
    context["others_here"] = _arrive(request, ticket)
    return render(request, "tickets/ticket_detail.html", context, status=400)


@member_required
def ticket_merge(request: MemberHttpRequest, number: int) -> HttpResponse:
    """Merge this ticket into another (GET: choose and confirm; POST: merge)."""
    membership = request.membership
    ticket = selectors.get_ticket_by_number(number)
    target, error = None, None
    raw = request.POST.get("into") or request.GET.get("into", "")
    if raw:
        try:
            target = selectors.get_ticket_by_number(int(raw.lstrip("#")))
        except (ValueError, TicketNotFound):
            error = f"There is no ticket {raw}."
    if target is not None and target.id == ticket.id:
        target, error = (
            None,
            f"#{ticket.number} cannot be merged into itself; choose another ticket.",
        )
    if request.method == "POST" and target is not None:
        try:
            permissions.require(membership, Capability.CHANGE_TICKETS, ReplyNotAllowed())
            merging.merge_tickets(
                survivor=target,
                others=[ticket],
                actor=membership,
                language=request.tenant.language,
            )
            messages.success(request, f"#{ticket.number} is merged into #{target.number}.")
            return redirect("tickets:ticket-detail", number=target.number)
        except DomainError as domain_error:
            error = str(domain_error)
    candidates = [
        t
        for t in contact_selectors.list_contact_tickets(ticket.contact, exclude_id=ticket.id)
        if not t.merged_into_id and not t.is_closed
    ]
    return render(
        request,
        "tickets/ticket_merge.html",
        {"ticket": ticket, "target": target, "error": error, "candidates": candidates},
        status=400 if error else 200,
    )


@member_required
@require_POST
def message_split(request: MemberHttpRequest, number: int, message_id: UUID) -> HttpResponse:
    """Turn one customer message into a ticket of its own."""
    membership = request.membership
    ticket = selectors.get_ticket_by_number(number)
    try:
        permissions.require(membership, Capability.CHANGE_TICKETS, ReplyNotAllowed())
        message = selectors.get_message(message_id)
        if message.ticket_id != ticket.id:
            raise TicketNotFound(number=number)
        new = merging.split_message(
            message=message,
            actor=membership,
            language=request.tenant.language,
        )
    except DomainError as error:
        messages.error(request, str(error))
        return redirect("tickets:ticket-detail", number=number)
    messages.success(request, f"The message is now ticket #{new.number}.")
    return redirect("tickets:ticket-detail", number=new.number)


@member_required
@require_POST
def ticket_spam(request: MemberHttpRequest, number: int) -> HttpResponse:
    membership = request.membership
    ticket = selectors.get_ticket_by_number(number)
    is_spam = request.POST.get("spam") != "0"
    if not permissions.can_change_tickets(membership):
        messages.error(request, str(ReplyNotAllowed()))
        return redirect("tickets:ticket-detail", number=number)
    services.mark_spam(ticket=ticket, actor=membership, is_spam=is_spam)
    if is_spam:
        messages.success(request, f"#{number} moved to spam.")
        return redirect("tickets:inbox")
    messages.success(request, f"#{number} is back in the inbox.")
    return redirect("tickets:ticket-detail", number=number)


SAFE_INLINE_TYPES = {
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
    "text/plain",
}


@member_required
def attachment(request: MemberHttpRequest, attachment_id: UUID) -> HttpResponseBase:
    """An attachment of a message of this tenant. Only inert types are shown inline."""
    try:
        item = selectors.get_attachment(attachment_id)
    except AttachmentNotFound:
        return not_found_page(request, "That attachment")
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


def ticket_tracking(request: HttpRequest, token: str) -> HttpResponse:
    """The customer's view of one ticket (signed link, no login): status and the public
    conversation. Internal notes and events are never shown."""
    ticket_id = tracking.ticket_id_from_token(token)
    ticket = selectors.get_public_ticket(ticket_id) if ticket_id else None
    if ticket is None or getattr(request, "tenant", None) is None:
        return not_found_page(request, "That request")
    if ticket.merged_into_id:
        # Merged: the conversation goes on in the other request, so the link follows it.
        survivor = merging.resolve_merged(ticket)
        return redirect("tickets:tracking", token=tracking.tracking_token(survivor.id))
    survey = satisfaction_selectors.get_ticket_rating(ticket.id)
    with translation.override(request.tenant.language or "en"):  # type: ignore[attr-defined]
        response = _render_tracking(request, ticket, token, survey)
    response["X-Robots-Tag"] = "noindex"
    # The token never leaves our host in a Referer, but the page's own forms keep their
    # Origin (under no-referrer Chromium sends "Origin: null" and CSRF refuses the post).
    response["Referrer-Policy"] = "same-origin"
    return response


def _render_tracking(request: HttpRequest, ticket: Any, token: str, survey: Any) -> HttpResponse:
    return render(
        request,
        "tickets/tracking.html",
        {
            "ticket": ticket,
            "token": token,
            "thread": selectors.list_public_thread(ticket),
            # A sent survey of a finished ticket: the customer may (re)rate it from here.
            "survey": survey
            if survey and survey.sent_at and ticket.status in RESOLVED_STATUSES
            else None,
        },
    )


@member_required(may=Capability.CREATE_TICKETS)
def ticket_new(request: MemberHttpRequest) -> HttpResponse:
    """Open a ticket from the browser: log a phone call (the customer's request in the
    agent's words) or write an email to a customer (the ticket waits on their answer)."""
    departments = department_selectors.cached_departments()
    default = next(
        (d for d in departments if d.is_default), departments[0] if departments else None
    )
    form = NewTicketForm(
        request.POST or None,
        request.FILES or None,
        initial={
            "channel": request.GET.get("channel", "email"),
            "contact_email": request.GET.get("email", "")[:254],
            "department": default.id if default else None,
            "priority": "normal",
        },
    )
    error = ""
    if request.method == "POST":
        if form.is_valid():
            try:
                ticket = _open_ticket(request, form.cleaned_data)
            except DomainError as refused:
                error = str(refused)
            else:
                done = "emailed the customer" if ticket.channel == "email" else "logged the call"
                messages.success(request, f"Ticket #{ticket.number} created: you {done}.")
                return redirect("tickets:ticket-detail", number=ticket.number)
        else:
            error = " ".join(str(e) for errors in form.errors.values() for e in errors)
    return render(
        request,
        "tickets/ticket_new.html",
        {
            "form": form,
            "error": error,
            "departments": departments,
            "priorities": configuration.priority_levels(),
            "mentionable": [],
        },
        status=400 if error else 200,
    )


def _open_ticket(request: MemberHttpRequest, data: dict[str, Any]) -> Any:
    member = request.membership
    department = next(
        (d for d in department_selectors.cached_departments() if d.id == data["department"]),
        None,
    )
    if department is None:
        raise TicketNotFound(number=0)  # never a department of another tenant
    contact = services.get_or_create_contact(email=data["contact_email"], name=data["contact_name"])
    body_format = data["body_format"] or services.BodyFormat.TEXT
    if data["channel"] == "phone":
        text, html, pictures = services.formatted_body(
            data["body"], body_format, inline_images(request.FILES)
        )
        return services.create_ticket(
            subject=data["subject"],
            body=text,
            contact=contact,
            department=department,
            channel="phone",
            priority=data["priority"],
            actor=member,
            language=request.tenant.language,
            content=services.MessageContent(
                html=html,
                attachments=[
                    *services.attachments_from_uploads(request.FILES.getlist("attachments")),
                    *pictures,
                ],
            ),
        )
    return services.start_outbound_ticket(
        subject=data["subject"],
        body=data["body"],
        contact=contact,
        department=department,
        actor=member,
        priority=data["priority"],
        language=request.tenant.language,
        body_format=body_format,
        attachments=services.attachments_from_uploads(request.FILES.getlist("attachments")),
        inline_images=inline_images(request.FILES),
        cc=data["cc"],
        bcc=data["bcc"],
    )


@member_required
@require_POST
def ticket_followers(request: MemberHttpRequest, number: int) -> HttpResponse:
    """Add people who are copied on every reply (`add`: addresses) or stop copying one
    (`remove`: a contact id). htmx gets the followers list back; a plain post the page."""
    try:
        ticket = selectors.get_ticket_by_number(number)
    except TicketNotFound:
        return not_found_page(request, f"Ticket #{number}")
    member = request.membership
    error = ""
    try:
        if request.POST.get("remove"):
            try:
                contact_id = UUID(request.POST["remove"])
            except ValueError:
                raise FollowerNotFound() from None
            services.unfollow_ticket(ticket=ticket, contact_id=contact_id, actor=member)
        else:
            added = services.follow_ticket(
                ticket=ticket, emails=request.POST.get("add", "")[:4000], actor=member
            )
            if not added and not request.POST.get("add", "").strip():
                error = "Type the address of someone to copy on every reply."
    except DomainError as refused:
        error = str(refused)
    if not request.htmx:
        if error:
            messages.error(request, error)
        return redirect("tickets:ticket-detail", number=number)
    context = _ticket_context(request, number, followers_error=error)
    response = render(
        request, "tickets/ticket_detail.html#followers", context, status=400 if error else 200
    )
    response["HX-Trigger"] = "ticket-updated"
    return response


@member_required(may=Capability.REPLY_PUBLICLY)
def message_forward(request: MemberHttpRequest, number: int, message_id: UUID) -> HttpResponse:
    """Forward one message of the ticket to someone outside it (GET: the form)."""
    try:
        ticket = selectors.get_ticket_by_number(number)
        message = selectors.get_message(message_id)
    except DomainError:
        return not_found_page(request, "That message")
    if message.ticket_id != ticket.id:
        return not_found_page(request, "That message")
    form = ForwardForm(request.POST or None)
    error = ""
    if request.method == "POST":
        if form.is_valid():
            try:
                services.forward_message(
                    ticket=ticket,
                    message=message,
                    to=form.cleaned_data["to"],
                    note=form.cleaned_data["note"],
                    actor=request.membership,
                    body_format=form.cleaned_data["body_format"] or services.BodyFormat.TEXT,
                )
            except DomainError as refused:
                error = str(refused)
            else:
                messages.success(request, f"Forwarded to {form.cleaned_data['to']}.")
                return redirect("tickets:ticket-detail", number=number)
        else:
            error = "Say whom to forward it to."
    return render(
        request,
        "tickets/message_forward.html",
        {"ticket": ticket, "message": message, "form": form, "error": error, "mentionable": []},
        status=400 if error else 200,
    )


@member_required
@require_POST
def reply_preview(request: MemberHttpRequest) -> HttpResponse:
    """The editor's text as it will look (htmx): pasted pictures are not uploaded yet, so
    they show as their names."""
    body = request.POST.get("body", "")[:1_000_000]
    html = formatting.render_html(formatting.render_text(body)) if body.strip() else ""
    return render(request, "tickets/reply_preview.html", {"html": html})
