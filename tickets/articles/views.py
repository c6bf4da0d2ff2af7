"""Agent pages: "Create article" on a solved ticket (a draft, then its editor), the ticket's
knowledge-base panel, and the reply editor's article search."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from helpdesk.core.errors import DomainError
from helpdesk.core.views import not_found_page
from helpdesk.tenancy import permissions
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.decorators import member_required
from helpdesk.tenancy.http import MemberHttpRequest
from helpdesk.tenancy.permissions import Capability
from knowledge_base import selectors as kb_selectors
from knowledge_base.rendering import plain_text
from tickets.articles import selectors, services
from tickets.errors import TicketNotFound
from tickets.models import TicketStatus


@member_required
@require_POST
def ticket_create_article(request: MemberHttpRequest, number: int) -> HttpResponse:
    """Draft an article from the solved ticket and open it in the editor."""
    try:
        ticket = selectors.get_ticket(number)
    except TicketNotFound:
        return not_found_page(request, f"Ticket #{number}")
    try:
        article = services.draft_article_from_ticket(ticket=ticket, actor=request.membership)
    except DomainError as error:
        messages.error(request, str(error))
        return redirect("tickets:ticket-detail", number=number)
    messages.success(request, f"Draft written from #{number}: check it, then publish.")
    return redirect("knowledge_base:article-edit", article.slug)


@member_required
def ticket_knowledge(request: MemberHttpRequest, number: int) -> HttpResponse:
    """The ticket page's knowledge-base panel (htmx): the articles written from the ticket
    and sent in its replies, and "Create article" once it is solved."""
    try:
        ticket = selectors.get_ticket(number)
    except TicketNotFound:
        return not_found_page(request, f"Ticket #{number}")
    return render(
        request,
        "tickets/ticket_knowledge.html",
        {
            "ticket": ticket,
            "links": list(selectors.list_ticket_articles(ticket)),
            "may_create": permissions.can(request.membership, Capability.WRITE_ARTICLES)
            and ticket.status in (TicketStatus.SOLVED, TicketStatus.CLOSED),
            "has_note": selectors.resolution_note(ticket) is not None,
        },
    )


@member_required
def article_picker(request: MemberHttpRequest, number: int) -> HttpResponse:
    """The reply editor's knowledge-base search (htmx): published articles, internal ones
    too; each can be inserted as its text, and a public one as its help-center link."""
    try:
        selectors.get_ticket(number)
    except TicketNotFound:
        return not_found_page(request, f"Ticket #{number}")
    base = tenancy_selectors.tenant_base_url(request.tenant)
    articles = [
        (
            article,
            base + reverse("help:article", args=[article.slug]) if article.is_public else None,
            plain_text(article.body),
        )
        for article in kb_selectors.search_published_articles(
            request.GET.get("q", "")[:200], public_only=False
        )
    ]
    return render(request, "tickets/article_picker.html", {"articles": articles})
