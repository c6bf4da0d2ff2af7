"""Agent pages: "Create article" on a solved ticket (a draft, then its editor) and the reply
editor's article search. The ticket page draws its knowledge-base panel itself
(selectors.KnowledgePanel)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from helpdesk.core.errors import DomainError
from helpdesk.core.views import not_found_page
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.decorators import member_required
from helpdesk.tenancy.http import MemberHttpRequest
from knowledge_base import selectors as kb_selectors
from knowledge_base.rendering import plain_text
from tickets.articles import selectors, services
from tickets.errors import TicketNotFound


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
