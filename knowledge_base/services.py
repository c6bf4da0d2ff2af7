"""Knowledge base: article slugs are unique per tenant; publishing stamps published_at."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from helpdesk.tenancy.models import Membership
from knowledge_base.errors import ArticleSlugTaken
from knowledge_base.models import Article, ArticleStatus, Category


@transaction.atomic
def create_category(*, name: str, position: int = 0) -> Category:
    slug = slugify(name)[:120] or "category"
    category, _ = Category.objects.get_or_create(
        slug=slug, defaults={"name": name, "position": position}
    )
    return category


@transaction.atomic
def create_article(
    *, category: Category, title: str, body: str, author: Membership | None, publish: bool = False
) -> Article:
    """A new article (draft unless publish). Raises ArticleSlugTaken."""
    slug = slugify(title)[:200] or "article"
    if Article.objects.filter(slug=slug).exists():
        raise ArticleSlugTaken(slug=slug)
    return Article.objects.create(
        category=category,
        title=title,
        slug=slug,
        body=body,
        author=author,
        status=ArticleStatus.PUBLISHED if publish else ArticleStatus.DRAFT,
        published_at=timezone.now() if publish else None,
    )
