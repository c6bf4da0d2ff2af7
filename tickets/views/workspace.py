"""Agent pages for moves on whole tickets (merge, split, spam) and the agent's own
notification list."""

from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from helpdesk.core.errors import DomainError
from helpdesk.tenancy import permissions
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.decorators import member_required
from helpdesk.tenancy.http import MemberHttpRequest
from helpdesk.tenancy.permissions import Capability
from knowledge_base import selectors as kb_selectors
from tickets import merging, selectors, services
from tickets.contacts import selectors as contact_selectors
from tickets.errors import ReplyNotAllowed, TicketNotFound


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


@member_required
def article_picker(request: MemberHttpRequest, number: int) -> HttpResponse:
    """The reply editor's knowledge-base search (htmx): published articles with the public
    link to paste into a reply."""
    base = tenancy_selectors.tenant_base_url(request.tenant)
    articles = [
        (article, base + reverse("help:article", args=[article.slug]))
        for article in kb_selectors.search_published_articles(request.GET.get("q", "")[:200])
    ]
    return render(request, "tickets/article_picker.html", {"articles": articles})
