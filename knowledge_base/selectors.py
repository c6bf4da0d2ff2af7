"""Reads for the knowledge base."""

from __future__ import annotations

from django.db.models import QuerySet

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
