"""Knowledge base: categories and their sections, articles (Markdown, draft or published,
public or internal), their revisions, former slugs, related articles and images."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models

from helpdesk.tenancy.models import TenantModel
from helpdesk.tenancy.rls import TenantFK


class Category(TenantModel):
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=120)
    description = models.TextField(blank=True, default="")
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


class Section(TenantModel):
    """A group of articles inside a category, in the category's order."""

    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="sections")
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=120)
    position = models.PositiveIntegerField(default=0)

    class Meta(TenantModel.Meta):
        ordering = ["position", "name"]
        constraints = [
            *TenantModel.Meta.constraints,
            TenantFK("category"),
            models.UniqueConstraint(
                fields=["tenant", "category", "slug"], name="knowledge_base_section_slug_uniq"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ArticleStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"


class ArticleVisibility(models.TextChoices):
    PUBLIC = "public", "Public"
    INTERNAL = "internal", "Internal (agents only)"


# The current tenant's published public articles with their search documents, for `@@`
# through the full-text index (migration 0007): `knowledge_base_article.search_document`
# is a column the ORM does not know, kept by a trigger; the view is owned by the ops role
# and filters by `app.tenant_id` as the policy does. Only knowledge_base.public reads it.
PUBLIC_SEARCH_VIEW = "knowledge_base_article_public_search"
# The same for the translations of those articles (`id` is the article's), each document
# in the translation's own language (migration 0008).
PUBLIC_TRANSLATION_SEARCH_VIEW = "knowledge_base_translation_public_search"


class Article(TenantModel):
    """An article. Its table also has `search_document` (title and body as a tsvector in
    the tenant's language), which a trigger writes and only PUBLIC_SEARCH_VIEW reads."""

    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="articles")
    section = models.ForeignKey(
        Section, null=True, blank=True, on_delete=models.SET_NULL, related_name="articles"
    )
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200)
    body = models.TextField()
    # The body rendered from Markdown and sanitized, written with the body (services).
    body_html = models.TextField(blank=True, default="")
    status = models.CharField(
        max_length=16, choices=ArticleStatus.choices, default=ArticleStatus.DRAFT
    )
    visibility = models.CharField(
        max_length=16, choices=ArticleVisibility.choices, default=ArticleVisibility.PUBLIC
    )
    tags = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    position = models.PositiveIntegerField(default=0)
    author = models.ForeignKey(
        "tenancy.Membership", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_at = models.DateTimeField(null=True, blank=True)
    revision_count = models.PositiveIntegerField(default=0)
    # How many times agents sent it from the reply editor (tickets record which ones).
    times_sent = models.PositiveIntegerField(default=0)
    # The ticket it was written from ("Create article"); a number, since the knowledge
    # base sits below tickets. tickets.TicketArticle keeps the key.
    source_ticket_number = models.PositiveIntegerField(null=True, blank=True)
    related = models.ManyToManyField(
        "self", through="ArticleRelation", symmetrical=False, related_name="+", blank=True
    )

    class Meta(TenantModel.Meta):
        ordering = ["title"]
        constraints = [
            *TenantModel.Meta.constraints,
            TenantFK("category"),
            TenantFK("section"),
            TenantFK("author"),
            models.UniqueConstraint(
                fields=["tenant", "slug"], name="knowledge_base_article_slug_uniq"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=ArticleStatus.values),
                name="knowledge_base_article_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(visibility__in=ArticleVisibility.values),
                name="knowledge_base_article_visibility_valid",
            ),
        ]
        indexes = [
            # Help center and agent list: a category's published articles.
            models.Index(fields=["tenant", "status", "category"], name="kb_article_list_idx"),
            GinIndex(fields=["tags"], name="kb_article_tags_idx"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_public(self) -> bool:
        return (
            self.status == ArticleStatus.PUBLISHED and self.visibility == ArticleVisibility.PUBLIC
        )


class ArticleSlug(TenantModel):
    """A slug the article had before its title changed: its old links redirect."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="old_slugs")
    slug = models.SlugField(max_length=200)

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            TenantFK("article"),
            models.UniqueConstraint(
                fields=["tenant", "slug"], name="knowledge_base_articleslug_uniq"
            ),
        ]

    def __str__(self) -> str:
        return self.slug


class ArticleRevision(TenantModel):
    """The article as one save left it: numbered from 1, with who saved it."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    body = models.TextField()
    status = models.CharField(max_length=16, choices=ArticleStatus.choices)
    visibility = models.CharField(max_length=16, choices=ArticleVisibility.choices)
    author = models.ForeignKey(
        "tenancy.Membership", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=200, blank=True, default="")

    class Meta(TenantModel.Meta):
        ordering = ["-number"]
        constraints = [
            *TenantModel.Meta.constraints,
            TenantFK("article"),
            TenantFK("author"),
            models.UniqueConstraint(
                fields=["tenant", "article", "number"], name="knowledge_base_revision_uniq"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.article_id} #{self.number}"


class ArticleRelation(TenantModel):
    """`related` is listed under `article` ("Related articles"), in position order."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="+")
    related = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField(default=0)

    class Meta(TenantModel.Meta):
        ordering = ["position"]
        constraints = [
            *TenantModel.Meta.constraints,
            TenantFK("article"),
            TenantFK("related"),
            models.UniqueConstraint(
                fields=["tenant", "article", "related"], name="knowledge_base_relation_uniq"
            ),
            models.CheckConstraint(
                condition=~models.Q(article=models.F("related")),
                name="knowledge_base_relation_not_self",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.article_id} -> {self.related_id}"


def article_image_path(image: ArticleImage, filename: str) -> str:
    # Ids, not names, in storage paths.
    return f"kb/{image.tenant_id}/{image.id}"


class ArticleImage(TenantModel):
    """An image uploaded for an article; the Markdown shows it by its URL."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="images")
    file = models.FileField(upload_to=article_image_path, max_length=300)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    uploaded_by = models.ForeignKey(
        "tenancy.Membership", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            TenantFK("article"),
            TenantFK("uploaded_by"),
        ]

    def __str__(self) -> str:
        return self.filename


class ArticleStats(TenantModel):
    """The help center's counters for one article: views (one per visitor a day) and the
    "was this helpful?" answers (one per visitor, kept in ArticleVote). A row of its own so
    that counting a view never rewrites the article."""

    article = models.OneToOneField(Article, on_delete=models.CASCADE, related_name="stats")
    views = models.PositiveIntegerField(default=0)
    helpful = models.PositiveIntegerField(default=0)
    not_helpful = models.PositiveIntegerField(default=0)

    class Meta(TenantModel.Meta):
        constraints = [*TenantModel.Meta.constraints, TenantFK("article")]


class ArticleVote(TenantModel):
    """One visitor's answer to "was this helpful?" on one article; answering again changes
    it. `visitor` is a hash of the help center's visitor cookie, never the cookie itself."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="+")
    visitor = models.CharField(max_length=64)
    helpful = models.BooleanField()

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            TenantFK("article"),
            models.UniqueConstraint(
                fields=["tenant", "article", "visitor"], name="knowledge_base_articlevote_uniq"
            ),
        ]


class Deflection(TenantModel):
    """A visitor of the request form opened a suggested article. It counts as deflected
    unless the same visitor sent the form afterwards (`asked_anyway`)."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="+")
    visitor = models.CharField(max_length=64)
    asked_anyway = models.BooleanField(default=False)

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            TenantFK("article"),
            models.UniqueConstraint(
                fields=["tenant", "article", "visitor"], name="knowledge_base_deflection_uniq"
            ),
        ]
        indexes = [
            # Reports: deflections in a period.
            models.Index(fields=["tenant", "created_at"], name="kb_deflection_created_idx"),
        ]


class ArticleTranslation(TenantModel):
    """The article in another language; the help center shows it to visitors whose browser
    prefers that language (Accept-Language) over the article's own. Its table also has
    `search_document` (in the translation's language), kept by a trigger (migration 0008)
    and read only through PUBLIC_TRANSLATION_SEARCH_VIEW."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="translations")
    language = models.CharField(max_length=16)
    title = models.CharField(max_length=200)
    body = models.TextField()
    # Rendered and sanitized like the article's own body_html.
    body_html = models.TextField(blank=True, default="")

    class Meta(TenantModel.Meta):
        constraints = [
            *TenantModel.Meta.constraints,
            TenantFK("article"),
            models.UniqueConstraint(
                fields=["tenant", "article", "language"],
                name="knowledge_base_translation_uniq",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.article_id} [{self.language}]"


class ArticleTranslationRevision(TenantModel):
    """A translation as one save left it: numbered from 1 per translation, with who saved
    it (the article's own history is ArticleRevision)."""

    translation = models.ForeignKey(
        ArticleTranslation, on_delete=models.CASCADE, related_name="revisions"
    )
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    body = models.TextField()
    author = models.ForeignKey(
        "tenancy.Membership", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=200, blank=True, default="")

    class Meta(TenantModel.Meta):
        ordering = ["-number"]
        constraints = [
            *TenantModel.Meta.constraints,
            TenantFK("translation"),
            TenantFK("author"),
            models.UniqueConstraint(
                fields=["tenant", "translation", "number"],
                name="knowledge_base_translation_revision_uniq",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.translation_id} #{self.number}"
