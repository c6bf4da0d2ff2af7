"""Agent pages of the inbound log: received emails, raw bytes, retry."""

from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from departments import selectors as department_selectors
from departments.errors import MailboxNotFound
from departments.forms import ImapSettingsForm
from helpdesk.core.errors import DomainError
from helpdesk.core.views import not_found_page
from helpdesk.tenancy.decorators import member_required
from helpdesk.tenancy.http import MemberHttpRequest
from helpdesk.tenancy.permissions import Capability
from tickets.errors import (
    InboundEmailNotFound,
)
from tickets.mail_in import imap_client, intake
from tickets.mail_in import selectors as mail_in_selectors
from tickets.models import (
    InboundEmailStatus,
)


@member_required(may=Capability.MANAGE_SETTINGS)
def inbound_log(request: MemberHttpRequest) -> HttpResponse:
    """Every inbound mail with its status and reason; filter by status."""
    status = request.GET.get("status", "")
    if status not in InboundEmailStatus.values:
        status = ""
    page = Paginator(mail_in_selectors.list_inbound_emails(status=status or None), 50).get_page(
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
        email = mail_in_selectors.get_inbound_email(email_id)
    except InboundEmailNotFound:
        return not_found_page(request, "That mail")
    return render(request, "tickets/inbound_detail.html", {"email": email})


@member_required(may=Capability.MANAGE_SETTINGS)
def inbound_raw(request: MemberHttpRequest, email_id: UUID) -> HttpResponse:
    """The original bytes as received, shown as text (never rendered as HTML)."""
    try:
        email = mail_in_selectors.get_inbound_email(email_id)
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
        email = mail_in_selectors.get_inbound_email(email_id)
        intake.retry_inbound_email(email=email, actor=request.membership)
        messages.success(request, "The mail is queued to be processed again.")
    except InboundEmailNotFound:
        return not_found_page(request, "That mail")
    except DomainError as error:
        messages.error(request, str(error))
    return redirect("tickets:inbound-detail", email_id=email_id)


@member_required(may=Capability.MANAGE_SETTINGS)
@require_POST
def mailbox_imap_check(request: MemberHttpRequest, mailbox_id: UUID | None = None) -> HttpResponse:
    """*Test connection* (htmx): log in with the IMAP settings as typed, before saving, and
    open the folders; changes nothing. An empty password means the stored one."""
    mailbox = None
    if mailbox_id is not None:
        try:
            mailbox = department_selectors.get_mailbox(mailbox_id)
        except MailboxNotFound:
            return not_found_page(request, "That mailbox")
    form = ImapSettingsForm(request.POST)
    if not form.is_valid():
        problem = "; ".join(
            f"{name}: {' '.join(str(error) for error in errors)}"
            for name, errors in form.errors.items()
        )
        return render(request, "tickets/imap_check.html", {"problem": problem}, status=400)
    data = form.cleaned_data
    problem = imap_client.check_settings(
        mailbox=mailbox,
        host=data["imap_host"],
        port=data["imap_port"],
        security=data["imap_security"],
        username=data["imap_username"],
        password=data["imap_password"],
        folder=data["imap_folder"],
        archive_folder=data["imap_archive_folder"],
    )
    return render(
        request,
        "tickets/imap_check.html",
        {"problem": problem, "folder": data["imap_folder"], "host": data["imap_host"]},
    )
