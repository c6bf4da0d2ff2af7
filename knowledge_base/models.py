"""Knowledge base: categories and articles (draft or published)."""

from __future__ import annotations

from django.db import models

from helpdesk.tenancy.models import TenantModel
from helpdesk.tenancy.rls import TenantFK


class Category(TenantModel):
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=120)
    position = models.PositiveIntegerField(default=0)

    class Meta(TenantModel.Meta):
        ordering = ["position", "name"]
        constraints = [
            *TenantModel.Meta.constraints,
            models.UniqueConstraint(
                fields=["tenant", "slug"], name="knowledge_base_category_slug_uniq"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ArticleStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"


class Article(TenantModel):
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="articles")
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200)
    body = models.TextField()
    status = models.CharField(
        max_length=16, choices=ArticleStatus.choices, default=ArticleStatus.DRAFT
    )
    author = models.ForeignKey(
        "tenancy.Membership", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantModel.Meta):
        ordering = ["title"]
        constraints = [
            *TenantModel.Meta.constraints,
            TenantFK("category"),
            TenantFK("author"),
            models.UniqueConstraint(
                fields=["tenant", "slug"], name="knowledge_base_article_slug_uniq"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=ArticleStatus.values),
                name="knowledge_base_article_status_valid",
            ),
        ]
        indexes = [
            # Help center and agent list: a category's published articles.
            models.Index(fields=["tenant", "status", "category"], name="kb_article_list_idx"),
        ]

    def __str__(self) -> str:
        return self.title
