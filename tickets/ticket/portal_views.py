"""Customer pages without login: the help center's request form (`/help/request/`) and the
tracking page's actions (reply with attachments, mark solved, download an attachment of
the public conversation). The tracking link is the key: a signed ticket id, answered with
the same 404 for a bad token, another tenant's ticket and a missing one.

Spam protection of the request form: a rate limit per client address (every public form's
budget) and per email address, a honeypot field, size limits on text and files.
"""

from __future__ import annotations

from typing import cast
from uuid import UUID

from django.contrib import messages
from django.http import FileResponse, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from helpdesk.core import ratelimit
from helpdesk.core.errors import DomainError
from helpdesk.core.ratelimit import limit_public_form
from helpdesk.core.views import not_found_page
from helpdesk.tenancy.http import TenantHttpRequest
from knowledge_base import public as help_center
from knowledge_base.visitors import remember_visitor, visitor_key
from tickets.mail_out import tracking
from tickets.models import Ticket
from tickets.ticket import selectors, services
from tickets.ticket.forms import PortalReplyForm, PublicRequestForm
from tickets.ticket.services import portal
from tickets.ticket.views import SAFE_INLINE_TYPES


def request_form(request: HttpRequest) -> HttpResponseBase:
    """Ask for help: a new ticket on the channel "web". A filled honeypot gets the same
    thank-you page and no ticket; too many requests from one address get a 429."""
    tenant = getattr(request, "tenant", None)
    if tenant is None:
        return not_found_page(request, "That help center")
    with translation.override(tenant.language or "en"):
        response = _request_form(request)
    return remember_visitor(request, response)


@limit_public_form
def _request_form(request: HttpRequest) -> HttpResponse:
    return _request_form_page(cast(TenantHttpRequest, request))


def _request_form_page(request: TenantHttpRequest) -> HttpResponse:
    if request.method not in ("GET", "POST"):
        return HttpResponse(status=405, headers={"Allow": "GET, POST"})
    if request.method == "GET":
        initial = {"subject": request.GET.get("subject", "")[:200]}
        return render(
            request,
            "tickets/portal/request_form.html",
            {"form": PublicRequestForm(initial=initial)},
        )
    form = PublicRequestForm(request.POST, request.FILES)
    if form.is_bot:
        return render(request, "tickets/portal/request_sent.html", {"ticket": None}, status=200)
    if not form.is_valid():
        return render(request, "tickets/portal/request_form.html", {"form": form}, status=400)
    data = form.cleaned_data
    wait = ratelimit.hit("public_form_address", data["email"].strip().lower())
    if wait:
        return ratelimit.too_many_requests(
            request,
            retry_after=wait,
            message=_("Too many requests were sent from this email address."),
        )
    try:
        ticket = portal.submit_web_request(
            name=data["name"],
            email=data["email"],
            subject=data["subject"],
            message=data["message"],
            attachments=services.attachments_from_uploads(request.FILES.getlist("attachments")),
        )
    except DomainError as error:
        form.add_error(None, error.message)
        return render(request, "tickets/portal/request_form.html", {"form": form}, status=400)
    help_center.record_request_sent(visitor=visitor_key(request))
    return render(request, "tickets/portal/request_sent.html", {"ticket": ticket})


def _tracked_ticket(request: HttpRequest, token: str) -> Ticket | None:
    if getattr(request, "tenant", None) is None:
        return None
    ticket_id = tracking.ticket_id_from_token(token)
    ticket = selectors.get_public_ticket(ticket_id) if ticket_id else None
    if ticket is None or ticket.merged_into_id:
        return None
    return ticket


@require_POST
@limit_public_form
def tracking_reply(request: HttpRequest, token: str) -> HttpResponse:
    """The requester answers from the tracking page, with attachments."""
    ticket = _tracked_ticket(request, token)
    if ticket is None:
        return not_found_page(request, "That request")
    form = PortalReplyForm(request.POST, request.FILES)
    if not form.is_valid():
        for error in [*form.errors.get("body", []), *form.non_field_errors()]:
            messages.error(request, str(error))
        return redirect("tickets:tracking", token=token)
    try:
        portal.reply_from_portal(
            ticket=ticket,
            body=form.cleaned_data["body"],
            attachments=services.attachments_from_uploads(request.FILES.getlist("attachments")),
        )
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Your answer was added to the request."))
    return redirect("tickets:tracking", token=token)


@require_POST
@limit_public_form
def tracking_solve(request: HttpRequest, token: str) -> HttpResponse:
    """The requester says the request is solved."""
    ticket = _tracked_ticket(request, token)
    if ticket is None:
        return not_found_page(request, "That request")
    try:
        portal.solve_from_portal(ticket=ticket)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Thank you: the request is marked solved."))
    return redirect("tickets:tracking", token=token)


def tracking_attachment(request: HttpRequest, token: str, attachment_id: UUID) -> HttpResponseBase:
    """An attachment of the request's public conversation (never of an internal note)."""
    ticket = _tracked_ticket(request, token)
    item = selectors.get_public_attachment(ticket, attachment_id) if ticket else None
    if item is None:
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
    response["Referrer-Policy"] = "no-referrer"
    return response
