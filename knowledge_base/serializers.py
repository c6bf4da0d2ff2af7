"""API shapes of the knowledge base (names unique in the project: OpenAPI components)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from knowledge_base.models import (
    Article,
    ArticleRelation,
    ArticleRevision,
    ArticleStatus,
    ArticleTranslation,
    ArticleTranslationRevision,
    ArticleVisibility,
    Category,
    Section,
)
from knowledge_base.selectors import revision_diff
from knowledge_base.services import BODY_LENGTH, MAX_RELATED, MAX_TAGS, TAG_LENGTH, TITLE_LENGTH


class KbCategoryInput(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=120)
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    position = serializers.IntegerField(required=False, min_value=0, max_value=100_000)


class KbCategoryUpdateInput(KbCategoryInput):
    name = serializers.CharField(max_length=120, required=False)


class KbSectionOutput(serializers.ModelSerializer[Section]):
    class Meta:
        model = Section
        fields = ["id", "category", "name", "slug", "position"]


class KbCategoryOutput(serializers.ModelSerializer[Category]):
    sections = KbSectionOutput(many=True, read_only=True)

    class Meta:
        model = Category
        fields = ["id", "name", "slug", "description", "position", "sections", "created_at"]


class KbSectionInput(serializers.Serializer[Any]):
    category = serializers.CharField(help_text="The category's id or slug.")
    name = serializers.CharField(max_length=120)
    position = serializers.IntegerField(required=False, min_value=0, max_value=100_000)


class KbSectionUpdateInput(KbSectionInput):
    category = serializers.CharField(required=False, help_text="The category's id or slug.")
    name = serializers.CharField(max_length=120, required=False)


class KbArticleInput(serializers.Serializer[Any]):
    title = serializers.CharField(max_length=TITLE_LENGTH)
    body = serializers.CharField(max_length=BODY_LENGTH, help_text="Markdown.")
    category = serializers.CharField(help_text="The category's id or slug.")
    section = serializers.UUIDField(required=False, allow_null=True)
    status = serializers.ChoiceField(choices=ArticleStatus.choices, required=False)
    visibility = serializers.ChoiceField(choices=ArticleVisibility.choices, required=False)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=TAG_LENGTH),
        required=False,
        max_length=MAX_TAGS,
    )
    related = serializers.ListField(
        child=serializers.UUIDField(),
        required=False,
        max_length=MAX_RELATED,
        help_text="Ids of related articles, in the order shown.",
    )
    position = serializers.IntegerField(required=False, min_value=0, max_value=100_000)


class KbArticleUpdateInput(KbArticleInput):
    title = serializers.CharField(max_length=TITLE_LENGTH, required=False)
    body = serializers.CharField(max_length=BODY_LENGTH, required=False, help_text="Markdown.")
    category = serializers.CharField(required=False, help_text="The category's id or slug.")
    note = serializers.CharField(
        max_length=200, required=False, allow_blank=True, help_text="Says what changed."
    )
    expected_revision = serializers.IntegerField(
        required=False,
        min_value=0,
        help_text="The revision_count the change was made from: 409 article_changed when "
        "someone saved the article since (no change is lost silently).",
    )


class KbArticleOutput(serializers.ModelSerializer[Article]):
    body_html = serializers.CharField(
        read_only=True, help_text="The body rendered from Markdown and sanitized."
    )
    related = serializers.SerializerMethodField()
    old_slugs = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField(help_text="The agent page.")

    class Meta:
        model = Article
        fields = [
            "id",
            "title",
            "slug",
            "old_slugs",
            "body",
            "body_html",
            "category",
            "section",
            "status",
            "visibility",
            "tags",
            "related",
            "position",
            "author",
            "published_at",
            "revision_count",
            "times_sent",
            "source_ticket_number",
            "created_at",
            "updated_at",
            "url",
        ]

    def get_related(self, article: Article) -> list[str]:
        return [
            str(pk)
            for pk in ArticleRelation.objects.filter(article=article)
            .order_by("position")
            .values_list("related_id", flat=True)
        ]

    def get_old_slugs(self, article: Article) -> list[str]:
        return sorted(article.old_slugs.values_list("slug", flat=True))

    def get_url(self, article: Article) -> str:
        return f"/kb/{article.slug}/"


class KbArticleSummaryOutput(serializers.ModelSerializer[Article]):
    class Meta:
        model = Article
        fields = [
            "id",
            "title",
            "slug",
            "category",
            "section",
            "status",
            "visibility",
            "tags",
            "times_sent",
            "revision_count",
            "updated_at",
        ]


class KbRevisionOutput(serializers.ModelSerializer[ArticleRevision]):
    author_name = serializers.SerializerMethodField()

    class Meta:
        model = ArticleRevision
        fields = [
            "number",
            "title",
            "body",
            "status",
            "visibility",
            "author",
            "author_name",
            "note",
            "created_at",
        ]

    def get_author_name(self, revision: ArticleRevision) -> str:
        return revision.author.user.display_name if revision.author else ""


class KbDiffLineOutput(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=["same", "added", "removed", "context"])
    text = serializers.CharField()


class KbRevisionDetailOutput(KbRevisionOutput):
    diff = serializers.SerializerMethodField()

    class Meta(KbRevisionOutput.Meta):
        fields = [*KbRevisionOutput.Meta.fields, "diff"]

    def get_diff(self, revision: ArticleRevision) -> list[dict[str, str]]:
        return [{"kind": line.kind, "text": line.text} for line in revision_diff(revision)]


class KbPreviewInput(serializers.Serializer[Any]):
    body = serializers.CharField(max_length=BODY_LENGTH, allow_blank=True)


class KbPreviewOutput(serializers.Serializer[Any]):
    html = serializers.CharField()


class KbThemeOutput(serializers.Serializer[Any]):
    name = serializers.CharField(help_text="The name the help center and customer mail show.")
    brand_colour = serializers.CharField(help_text="#rrggbb, or empty for the default colour.")
    logo_url = serializers.CharField(
        allow_null=True, help_text="The logo as the help center serves it; null without one."
    )


class KbThemeUpdateInput(serializers.Serializer[Any]):
    name = serializers.CharField(required=False, max_length=200)
    brand_colour = serializers.CharField(
        required=False, allow_blank=True, max_length=7, help_text="#rrggbb; empty: the default."
    )


class KbThemeLogoInput(serializers.Serializer[Any]):
    file = serializers.FileField(
        help_text="PNG, JPEG, GIF or WebP, at most 512 KB (multipart/form-data)."
    )


class KbTranslationInput(serializers.Serializer[Any]):
    language = serializers.CharField(
        max_length=16, help_text="A language the help desk offers, other than the tenant's: de."
    )
    title = serializers.CharField(max_length=TITLE_LENGTH)
    body = serializers.CharField(max_length=BODY_LENGTH, help_text="Markdown.")


class KbTranslationUpdateInput(serializers.Serializer[Any]):
    title = serializers.CharField(max_length=TITLE_LENGTH, required=False)
    body = serializers.CharField(max_length=BODY_LENGTH, required=False, help_text="Markdown.")


class KbTranslationOutput(serializers.ModelSerializer[ArticleTranslation]):
    body_html = serializers.CharField(
        read_only=True, help_text="The body rendered from Markdown and sanitized."
    )

    class Meta:
        model = ArticleTranslation
        fields = [
            "id",
            "article",
            "language",
            "title",
            "body",
            "body_html",
            "created_at",
            "updated_at",
        ]


class KbTranslationRevisionOutput(serializers.ModelSerializer[ArticleTranslationRevision]):
    author_name = serializers.SerializerMethodField()

    class Meta:
        model = ArticleTranslationRevision
        fields = ["number", "title", "body", "author", "author_name", "note", "created_at"]

    def get_author_name(self, revision: ArticleTranslationRevision) -> str:
        return revision.author.user.display_name if revision.author else ""
