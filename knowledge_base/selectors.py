"""Reads for the knowledge base."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from knowledge_base.errors import ArticleNotFound
from knowledge_base.models import Article, ArticleStatus, Category


def list_categories() -> QuerySet[Category]:
    return Category.objects.order_by("position", "name")


def list_articles(*, published_only: bool = False) -> QuerySet[Article]:
    articles = Article.objects.select_related("category", "author__user")
    if published_only:
        articles = articles.filter(status=ArticleStatus.PUBLISHED)
    return articles.order_by("category__position", "category__name", "title")


def get_article_by_slug(slug: str, *, published_only: bool = False) -> Article:
    article = list_articles(published_only=published_only).filter(slug=slug).first()
    if article is None:
        raise ArticleNotFound(slug=slug)
    return article


def search_published_articles(query: str, *, limit: int = 20) -> list[Article]:
    """Published articles whose title or text holds the words (the reply editor's picker)."""
    articles = Article.objects.filter(status=ArticleStatus.PUBLISHED).select_related("category")
    for word in query.split()[:8]:
        articles = articles.filter(Q(title__icontains=word) | Q(body__icontains=word))
    return list(articles.order_by("title")[:limit])
