"""Agent pages of the knowledge base (all articles, drafts too, and one article) and the
public help center (published articles by category, a search, an article by its link)."""

from __future__ import annotations

from itertools import groupby
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from helpdesk.core.views import not_found_page
from helpdesk.tenancy.decorators import member_required
from helpdesk.tenancy.http import MemberHttpRequest
from knowledge_base import selectors
from knowledge_base.errors import ArticleNotFound


@member_required
def article_list(request: MemberHttpRequest) -> HttpResponse:
    grouped = _grouped(list(selectors.list_articles()))
    return render(request, "knowledge_base/article_list.html", {"grouped": grouped})


@member_required
def article_detail(request: MemberHttpRequest, slug: str) -> HttpResponse:
    try:
        article = selectors.get_article_by_slug(slug)
    except ArticleNotFound:
        return not_found_page(request, "That article")
    return render(request, "knowledge_base/article_detail.html", {"article": article})


def _grouped(articles: list[Any]) -> list[tuple[Any, list[Any]]]:
    return [
        (category, list(items)) for category, items in groupby(articles, key=lambda a: a.category)
    ]


def help_center(request: HttpRequest) -> HttpResponse:
    """The public help center: published articles by category, or those matching `q`."""
    if getattr(request, "tenant", None) is None:
        return not_found_page(request, "That help center")
    query = request.GET.get("q", "").strip()[:200]
    if query:
        found = selectors.search_published_articles(query, limit=50)
        context = {"query": query, "found": found}
    else:
        context = {"grouped": _grouped(list(selectors.list_articles(published_only=True)))}
    return render(request, "knowledge_base/help_center.html", context)


def public_article(request: HttpRequest, slug: str) -> HttpResponse:
    """A published article for anyone with the link (what agents send customers)."""
    if getattr(request, "tenant", None) is None:
        return not_found_page(request, "That article")
    try:
        article = selectors.get_article_by_slug(slug, published_only=True)
    except ArticleNotFound:
        return not_found_page(request, "That article")
    return render(request, "knowledge_base/public_article.html", {"article": article})
