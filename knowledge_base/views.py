"""Agent pages of the knowledge base: all articles (drafts too) and one article."""

from __future__ import annotations

from itertools import groupby

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from helpdesk.core.views import not_found_page
from helpdesk.tenancy.decorators import member_required
from knowledge_base import selectors
from knowledge_base.errors import ArticleNotFound


@member_required
def article_list(request: HttpRequest) -> HttpResponse:
    articles = list(selectors.list_articles())
    grouped = [
        (category, list(items)) for category, items in groupby(articles, key=lambda a: a.category)
    ]
    return render(request, "knowledge_base/article_list.html", {"grouped": grouped})


@member_required
def article_detail(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        article = selectors.get_article_by_slug(slug)
    except ArticleNotFound:
        return not_found_page(request, "That article")
    return render(request, "knowledge_base/article_detail.html", {"article": article})


def public_article(request: HttpRequest, slug: str) -> HttpResponse:
    """A published article for anyone with the link (what agents send customers)."""
    if getattr(request, "tenant", None) is None:
        return not_found_page(request, "That article")
    try:
        article = selectors.get_article_by_slug(slug, published_only=True)
    except ArticleNotFound:
        return not_found_page(request, "That article")
    return render(request, "knowledge_base/public_article.html", {"article": article})
