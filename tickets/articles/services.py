"""Writes: a knowledge-base draft from a solved ticket, and recording the articles a reply
sent. The article itself is written by knowledge_base.services (the one path)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from django.db import transaction

from helpdesk.tenancy.models import Membership
from knowledge_base import selectors as kb_selectors
from knowledge_base import services as kb_services
from knowledge_base.models import Article, ArticleStatus, ArticleVisibility, Category
from tickets.articles import selectors
from tickets.articles.errors import NotSolved
from tickets.models import (
    RESOLVED_STATUSES,
    Message,
    MessageKind,
    Ticket,
    TicketArticle,
    TicketArticleKind,
)

DEFAULT_CATEGORY = "General"


def draft_body(ticket: Ticket) -> str:
    """The draft's Markdown: the final public reply, then the internal resolution note (if
    any) under a heading that says to check it before publishing."""
    reply = selectors.final_public_reply(ticket)
    note = selectors.resolution_note(ticket)
    parts: list[str] = []
    if reply is not None and reply.body_text.strip():
        parts.append(reply.body_text.strip())
    if note is not None and note.body_text.strip():
        parts.append(
            "## Resolution note (internal: edit or remove before publishing)\n\n"
            + note.body_text.strip()
        )
    if not parts:
        parts.append(f"How we solved “{ticket.subject}”.")
    return "\n\n".join(parts)


@transaction.atomic
def draft_article_from_ticket(
    *, ticket: Ticket, actor: Membership | None, category: Category | None = None
) -> Article:
    """A draft article from a solved (or closed) ticket: titled by its subject, the body
    from its resolution, linked to the ticket both ways. A draft that carries the ticket's
    internal resolution note starts internal: published unedited, it stays with agents."""
    if ticket.status not in RESOLVED_STATUSES:
        raise NotSolved()
    if category is None:
        category = kb_selectors.list_categories().first()
    if category is None:
        category = kb_services.create_category(name=DEFAULT_CATEGORY, actor=actor)
    has_note = selectors.resolution_note(ticket) is not None
    article = kb_services.create_article(
        category=category,
        title=ticket.subject or f"Ticket #{ticket.number}",
        body=draft_body(ticket),
        author=actor,
        status=ArticleStatus.DRAFT,
        visibility=ArticleVisibility.INTERNAL if has_note else ArticleVisibility.PUBLIC,
        source_ticket_number=ticket.number,
    )
    TicketArticle.objects.create(
        ticket=ticket, article=article, kind=TicketArticleKind.SOURCE, created_by=actor
    )
    return article


def _valid_ids(values: Iterable[Any]) -> list[UUID]:
    ids: list[UUID] = []
    for value in values:
        try:
            ids.append(UUID(str(value)))
        except ValueError:
            continue
    return list(dict.fromkeys(ids))[:20]


@transaction.atomic
def record_sent_articles(
    *, message: Message, article_ids: Iterable[Any], actor: Membership | None
) -> list[Article]:
    """The articles the reply carries: those the editor inserted whose link or title is
    still in the sent text. Notes send nothing to the customer, so they record none."""
    if message.kind != MessageKind.REPLY:
        return []
    candidates = kb_selectors.list_articles().filter(id__in=_valid_ids(article_ids))
    kept = [
        article.id
        for article in candidates
        if f"/help/{article.slug}/" in message.body_text or article.title in message.body_text
    ]
    articles = kb_services.record_sent(article_ids=kept)
    for article in articles:
        TicketArticle.objects.create(
            ticket_id=message.ticket_id,
            article=article,
            message=message,
            kind=TicketArticleKind.SENT,
            created_by=actor,
        )
    return articles
