"""Customer pages without login: the help center's request form (`/help/request/`) and the
tracking page's actions (reply with attachments, mark solved, download an attachment of
the public conversation). The tracking link is the key: a signed ticket id, answered with
the same 404 for a bad token, another tenant's ticket and a missing one.

Spam protection of the request form: a rate limit per client address (every public form's
budget) and per email address, a honeypot field, size limits on text and files.
"""

from __future__ import annotations

from collections.abc import Callable
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
from tickets.contacts import personal_data
from tickets.contacts import selectors as contact_selectors
from tickets.errors import ContactNotFound
from tickets.mail_out import tracking
from tickets.models import Contact, Ticket
from tickets.ticket import selectors, services
from tickets.ticket.forms import PortalReplyForm, PortalSignInForm, PublicRequestForm
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


PORTAL_SESSION_KEY = "portal_contact"


def _tenant_page(
    request: HttpRequest, render_page: Callable[[TenantHttpRequest], HttpResponseBase]
) -> HttpResponseBase:
    tenant = getattr(request, "tenant", None)
    if tenant is None:
        return not_found_page(request, "That help center")
    with translation.override(tenant.language or "en"):
        return render_page(cast(TenantHttpRequest, request))


def sign_in(request: HttpRequest) -> HttpResponseBase:
    """Ask for a one-time sign-in link: the same answer whether or not we know the address.
    Posts count against the client's address and the email address."""
    return _tenant_page(request, _limited_sign_in)


@limit_public_form
def _limited_sign_in(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "POST"):
        return HttpResponse(status=405, headers={"Allow": "GET, POST"})
    form = PortalSignInForm(request.POST or None)
    if request.method == "GET" or not form.is_valid():
        status = 400 if request.method == "POST" else 200
        return render(request, "tickets/portal/sign_in.html", {"form": form}, status=status)
    email = form.cleaned_data["email"].strip().lower()
    wait = ratelimit.hit("public_form_address", email)
    if wait:
        return ratelimit.too_many_requests(
            request,
            retry_after=wait,
            message=_("Too many requests were sent from this email address."),
        )
    portal.send_sign_in_link(email=email)
    return render(request, "tickets/portal/sign_in.html", {"form": None, "sent": True})


def sign_in_link(request: HttpRequest, token: str) -> HttpResponseBase:
    """The link from the mail: GET asks to confirm (mail scanners open links, and the link
    works once), POST signs the customer in and opens their requests."""
    return _tenant_page(request, lambda r: _sign_in_link(r, token))


@limit_public_form
def _sign_in_link(request: HttpRequest, token: str) -> HttpResponse:
    if request.method == "GET":
        return render(request, "tickets/portal/sign_in_confirm.html", {"token": token})
    if request.method != "POST":
        return HttpResponse(status=405, headers={"Allow": "GET, POST"})
    contact = portal.contact_from_sign_in_token(token)
    if contact is None:
        return render(
            request,
            "tickets/portal/sign_in.html",
            {"form": PortalSignInForm(), "expired": True},
            status=400,
        )
    request.session.cycle_key()
    request.session[PORTAL_SESSION_KEY] = {
        "tenant": str(cast(TenantHttpRequest, request).tenant.id),
        "contact": str(contact.id),
    }
    return redirect("portal:requests")


def _signed_in_contact(request: TenantHttpRequest) -> Contact | None:
    data = request.session.get(PORTAL_SESSION_KEY) or {}
    if data.get("tenant") != str(request.tenant.id):
        return None
    try:
        contact_id = UUID(str(data.get("contact")))
    except ValueError:
        return None
    try:
        return contact_selectors.surviving(contact_selectors.get_contact(contact_id))
    except ContactNotFound:
        return None


def my_requests(request: HttpRequest) -> HttpResponseBase:
    """A signed-in customer's requests (and their company's where the tenant allows it),
    each opening its tracking page. Without a sign-in: to the sign-in form."""
    return _tenant_page(request, _my_requests)


def _my_requests(request: TenantHttpRequest) -> HttpResponse:
    contact = _signed_in_contact(request)
    if contact is None:
        return redirect("portal:sign-in")
    tickets = selectors.list_portal_tickets(
        contact, with_company=request.tenant.portal_company_requests
    )
    rows = [(ticket, tracking.tracking_token(ticket.id)) for ticket in tickets]
    response = render(request, "tickets/portal/requests.html", {"contact": contact, "rows": rows})
    response["Cache-Control"] = "private, no-store"
    return response


def my_data(request: HttpRequest) -> HttpResponseBase:
    """A signed-in customer downloads what the help desk holds about them (POST: it counts
    against the public forms' budget of the client's address); in the audit log."""
    return _tenant_page(request, _my_data)


@limit_public_form
def _my_data(request: TenantHttpRequest) -> HttpResponseBase:
    if request.method != "POST":
        return HttpResponse(status=405, headers={"Allow": "POST"})
    contact = _signed_in_contact(request)
    if contact is None:
        return redirect("portal:sign-in")
    # my-data.json and the customer's attachments, zipped into a temporary file before the
    # tenant transaction ends; only that file is streamed afterwards.
    archive = personal_data.export_for_customer_zip(contact=contact)
    response = FileResponse(
        archive, as_attachment=True, filename="my-data.zip", content_type="application/zip"
    )
    response["Cache-Control"] = "private, no-store"
    return response


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    """Forget the portal sign-in."""
    request.session.pop(PORTAL_SESSION_KEY, None)
    return redirect("help:home")
