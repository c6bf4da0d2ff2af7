"""Knowledge base rows for tests of the pages that show them (the authoring services have
their own tests)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.text import slugify

from knowledge_base.models import Article, Category


def make_article(
    category: Category, title: str, body: str, *, status: str = "published", **fields: Any
) -> Article:
    """An article as the knowledge base stores it (the authoring services have their own
    tests): published and public unless told."""
    return Article.objects.create(
        category=category,
        title=title,
        slug=slugify(title),
        body=body,
        status=status,
        published_at=timezone.now() if status == "published" else None,
        **fields,
    )


def make_category(name: str, position: int = 0) -> Category:
    return Category.objects.create(name=name, slug=slugify(name), position=position)
