"""Agent pages around tickets: reports, attachments, the inbound log, email templates,
notification settings, and the customer's tracking page."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from departments import selectors as department_selectors
from helpdesk.core.errors import DomainError
from helpdesk.core.placeholders import KNOWN as KNOWN_PLACEHOLDERS
from helpdesk.core.views import not_found_page
from helpdesk.tenancy.decorators import member_required
from helpdesk.tenancy.http import MemberHttpRequest
from helpdesk.tenancy.permissions import Capability
from tickets import merging, selectors, tracking
from tickets.errors import (
    AttachmentNotFound,
    InboundEmailNotFound,
)
from tickets.mail import intake
from tickets.mail import templates as mail_templates
from tickets.models import (
    EmailTemplateKind,
    InboundEmailStatus,
    SatisfactionScore,
    TicketStatus,
)
from tickets.satisfaction import selectors as satisfaction_selectors
from tickets.satisfaction import services as satisfaction

CSAT_DAYS = 30


@member_required
def reports(request: MemberHttpRequest) -> HttpResponse:
    counts = selectors.count_by_status()
    rows = [(label, counts[value]) for value, label in TicketStatus.choices]
    ratings = satisfaction_selectors.count_ratings(since=timezone.now() - timedelta(days=CSAT_DAYS))
    answered = ratings[SatisfactionScore.GOOD] + ratings[SatisfactionScore.BAD]
    csat = {
        "days": CSAT_DAYS,
        "good": ratings[SatisfactionScore.GOOD],
        "bad": ratings[SatisfactionScore.BAD],
        "answered": answered,
        # good / (good + bad), as a whole percentage; None before the first answer.
        "percent": round(100 * ratings[SatisfactionScore.GOOD] / answered) if answered else None,
    }
    return render(
        request,
        "tickets/reports.html",
        {"rows": rows, "total": sum(counts.values()), "csat": csat},
    )


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


@member_required(may=Capability.MANAGE_SETTINGS)
def inbound_log(request: MemberHttpRequest) -> HttpResponse:
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


@member_required(may=Capability.MANAGE_SETTINGS)
def inbound_detail(request: MemberHttpRequest, email_id: UUID) -> HttpResponse:
    try:
        email = selectors.get_inbound_email(email_id)
    except InboundEmailNotFound:
        return not_found_page(request, "That mail")
    return render(request, "tickets/inbound_detail.html", {"email": email})


@member_required(may=Capability.MANAGE_SETTINGS)
def inbound_raw(request: MemberHttpRequest, email_id: UUID) -> HttpResponse:
    """The original bytes as received, shown as text (never rendered as HTML)."""
    try:
        email = selectors.get_inbound_email(email_id)
    except InboundEmailNotFound:
        return not_found_page(request, "That mail")
    response = HttpResponse(bytes(email.raw), content_type="text/plain; charset=utf-8")
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = f'inline; filename="{email.id}.eml"'
    return response


@member_required(may=Capability.MANAGE_SETTINGS)
@require_POST
def inbound_retry(request: MemberHttpRequest, email_id: UUID) -> HttpResponse:
    try:
        email = selectors.get_inbound_email(email_id)
        intake.retry_inbound_email(email=email)
        messages.success(request, "The mail is queued to be processed again.")
    except InboundEmailNotFound:
        return not_found_page(request, "That mail")
    except DomainError as error:
        messages.error(request, str(error))
    return redirect("tickets:inbound-detail", email_id=email_id)


TEMPLATE_FIELDS = {
    EmailTemplateKind.LAYOUT: ("header", "footer"),
    EmailTemplateKind.REPLY: ("body",),
}


@member_required(may=Capability.MANAGE_SETTINGS)
def email_templates(request: MemberHttpRequest) -> HttpResponse:
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


@member_required(may=Capability.MANAGE_SETTINGS)
def email_template_edit(request: MemberHttpRequest, kind: str) -> HttpResponse:
    """Edit one template (tenant-wide, or `?department=<id>`), with a sample preview."""
    if kind not in EmailTemplateKind.values:
        return not_found_page(request, "That template")
    department = None
    if request.GET.get("department"):
        try:
            department = department_selectors.get_department(UUID(request.GET["department"]))
        except (DomainError, ValueError):
            return not_found_page(request, "That department")
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
                preview = mail_templates.preview(kind=kind, **values)
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
                if (p != "reply.body" or kind == EmailTemplateKind.REPLY)
                and (p != "agent.name" or kind != EmailTemplateKind.ACKNOWLEDGEMENT)
                and (
                    not p.startswith("satisfaction.")
                    or kind == EmailTemplateKind.SATISFACTION_REQUEST
                )
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
        return not_found_page(request, "That request")
    if ticket.merged_into_id:
        # Merged: the conversation goes on in the other request, so the link follows it.
        survivor = merging.resolve_merged(ticket)
        return redirect("tickets:tracking", token=tracking.tracking_token(survivor.id))
    survey = satisfaction_selectors.get_ticket_rating(ticket.id)
    response = render(
        request,
        "tickets/tracking.html",
        {
            "ticket": ticket,
            "thread": selectors.list_public_thread(ticket),
            # A sent survey of a finished ticket: the customer may (re)rate it from here.
            "survey": survey
            if survey and survey.sent_at and ticket.status in satisfaction.SENDABLE_STATUSES
            else None,
        },
    )
    response["X-Robots-Tag"] = "noindex"
    response["Referrer-Policy"] = "no-referrer"
    return response
