"""Knowledge-base API: /api/v1/kb/categories/, /api/v1/kb/sections/, /api/v1/kb/articles/,
an article's revisions (and restoring one), its translations, and a Markdown preview. Every
member reads (light agents too, internal articles and drafts included); agents and admins
write, light agents get 403. Another tenant's rows are 404."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status as http
from rest_framework.request import Request
from rest_framework.response import Response

from helpdesk.api.permissions import (
    CanWriteArticlesOrReadOnly,
    IsTenantAdmin,
    IsTenantAdminOrReadOnly,
    IsTenantMember,
)
from helpdesk.api.views import TenantAPIView
from helpdesk.tenancy import services as tenancy_services
from helpdesk.tenancy.http import MemberRequest
from helpdesk.tenancy.models import Tenant
from knowledge_base import selectors, services
from knowledge_base.errors import CategoryNotFound, InvalidArticle
from knowledge_base.rendering import render_markdown
from knowledge_base.serializers import (
    KbArticleInput,
    KbArticleOutput,
    KbArticleSummaryOutput,
    KbArticleUpdateInput,
    KbCategoryInput,
    KbCategoryOutput,
    KbCategoryUpdateInput,
    KbPreviewInput,
    KbPreviewOutput,
    KbRevisionDetailOutput,
    KbRevisionOutput,
    KbSectionInput,
    KbSectionOutput,
    KbSectionUpdateInput,
    KbThemeLogoInput,
    KbThemeOutput,
    KbThemeUpdateInput,
    KbTranslationInput,
    KbTranslationOutput,
    KbTranslationRevisionOutput,
    KbTranslationUpdateInput,
)


def _article_changes(data: dict[str, Any]) -> dict[str, Any]:
    """The input's ids as rows of this tenant (an unknown id is a 400 naming it)."""
    if "category" in data:
        try:
            data["category"] = selectors.find_category(data["category"])
        except CategoryNotFound:
            raise InvalidArticle(f"No category {data['category']!r}.") from None
    if data.get("section") is not None:
        section = selectors.list_sections().filter(id=data["section"]).first()
        if section is None:
            raise InvalidArticle(f"No section {data['section']}.")
        data["section"] = section
    if "related" in data:
        ids = list(dict.fromkeys(data["related"]))
        found = {a.id: a for a in selectors.list_articles().filter(id__in=ids)}
        missing = [str(i) for i in ids if i not in found]
        if missing:
            raise InvalidArticle(f"No article {', '.join(missing)} to relate.")
        data["related"] = [found[i] for i in ids]
    return data


class KbCategoryListAPI(TenantAPIView):
    permission_classes = [IsTenantMember, CanWriteArticlesOrReadOnly]
    pagination_class = None

    @extend_schema(responses=KbCategoryOutput(many=True))
    def get(self, request: Request) -> Response:
        """The categories in order, each with its sections (a short list, answered whole)."""
        categories = selectors.list_categories().prefetch_related("sections")
        return Response(KbCategoryOutput(categories, many=True).data)

    @extend_schema(request=KbCategoryInput, responses={201: KbCategoryOutput})
    def post(self, request: Request) -> Response:
        data = self.validate(KbCategoryInput, request.data)
        category = services.create_category(actor=self.membership, **data)
        return Response(KbCategoryOutput(category).data, status=http.HTTP_201_CREATED)


class KbCategoryDetailAPI(TenantAPIView):
    permission_classes = [IsTenantMember, CanWriteArticlesOrReadOnly]
    pagination_class = None

    @extend_schema(responses=KbCategoryOutput)
    def get(self, request: Request, category_id: UUID) -> Response:
        return Response(KbCategoryOutput(selectors.get_category(category_id)).data)

    @extend_schema(request=KbCategoryUpdateInput, responses=KbCategoryOutput)
    def patch(self, request: Request, category_id: UUID) -> Response:
        category = selectors.get_category(category_id)
        data = self.validate(KbCategoryUpdateInput, request.data)
        category = services.update_category(category=category, actor=self.membership, **data)
        return Response(KbCategoryOutput(category).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, category_id: UUID) -> Response:
        """Remove an empty category (409 `category_not_empty` while it has articles)."""
        category = selectors.get_category(category_id)
        services.delete_category(category=category, actor=self.membership)
        return Response(status=http.HTTP_204_NO_CONTENT)


class KbSectionListAPI(TenantAPIView):
    permission_classes = [IsTenantMember, CanWriteArticlesOrReadOnly]
    pagination_class = None

    @extend_schema(responses=KbSectionOutput(many=True))
    def get(self, request: Request) -> Response:
        return Response(KbSectionOutput(selectors.list_sections(), many=True).data)

    @extend_schema(request=KbSectionInput, responses={201: KbSectionOutput})
    def post(self, request: Request) -> Response:
        data = dict(self.validate(KbSectionInput, request.data))
        try:
            category = selectors.find_category(data.pop("category"))
        except CategoryNotFound:
            raise InvalidArticle("No such category for the section.") from None
        section = services.create_section(category=category, actor=self.membership, **data)
        return Response(KbSectionOutput(section).data, status=http.HTTP_201_CREATED)


class KbSectionDetailAPI(TenantAPIView):
    permission_classes = [IsTenantMember, CanWriteArticlesOrReadOnly]
    pagination_class = None

    @extend_schema(responses=KbSectionOutput)
    def get(self, request: Request, section_id: UUID) -> Response:
        return Response(KbSectionOutput(selectors.get_section(section_id)).data)

    @extend_schema(request=KbSectionUpdateInput, responses=KbSectionOutput)
    def patch(self, request: Request, section_id: UUID) -> Response:
        section = selectors.get_section(section_id)
        data = dict(self.validate(KbSectionUpdateInput, request.data))
        if "category" in data:
            try:
                data["category"] = selectors.find_category(data["category"])
            except CategoryNotFound:
                raise InvalidArticle("No such category for the section.") from None
        section = services.update_section(section=section, actor=self.membership, **data)
        return Response(KbSectionOutput(section).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, section_id: UUID) -> Response:
        """Remove the section; its articles stay in the category."""
        section = selectors.get_section(section_id)
        services.delete_section(section=section, actor=self.membership)
        return Response(status=http.HTTP_204_NO_CONTENT)


class KbArticleListAPI(TenantAPIView):
    permission_classes = [IsTenantMember, CanWriteArticlesOrReadOnly]

    @extend_schema(
        parameters=[
            OpenApiParameter("q", OpenApiTypes.STR, description="Words in title, body or tags."),
            OpenApiParameter("status", OpenApiTypes.STR, enum=["draft", "published"]),
            OpenApiParameter("visibility", OpenApiTypes.STR, enum=["public", "internal"]),
            OpenApiParameter("category", OpenApiTypes.UUID),
            OpenApiParameter("tag", OpenApiTypes.STR),
        ],
        responses=KbArticleSummaryOutput(many=True),
    )
    def get(self, request: Request) -> Response:
        """Every article, drafts and internal ones too (members only)."""
        params = request.query_params
        category = params.get("category", "")
        if category:
            try:
                category = str(UUID(category))
            except ValueError:
                raise InvalidArticle("category is a category id.") from None
        articles = selectors.filter_articles(
            selectors.list_articles(),
            q=params.get("q", "")[:200],
            status=params.get("status", ""),
            visibility=params.get("visibility", ""),
            category=category or None,
            tag=params.get("tag", "")[:50],
        )
        return self.paginate(request, articles, KbArticleSummaryOutput)

    @extend_schema(request=KbArticleInput, responses={201: KbArticleOutput})
    def post(self, request: Request) -> Response:
        """A new article: a draft unless `status` is published; public unless `visibility`
        is internal (agents only). The slug comes from the title."""
        data = _article_changes(dict(self.validate(KbArticleInput, request.data)))
        article = services.create_article(author=self.membership, **data)
        return Response(KbArticleOutput(article).data, status=http.HTTP_201_CREATED)


class KbArticleDetailAPI(TenantAPIView):
    permission_classes = [IsTenantMember, CanWriteArticlesOrReadOnly]
    pagination_class = None

    @extend_schema(responses=KbArticleOutput)
    def get(self, request: Request, article_id: UUID) -> Response:
        return Response(KbArticleOutput(selectors.get_article(article_id)).data)

    @extend_schema(request=KbArticleUpdateInput, responses=KbArticleOutput)
    def patch(self, request: Request, article_id: UUID) -> Response:
        """Change the article. A new title moves the slug (the old one redirects); a change
        of title, body, status or visibility is a new revision."""
        article = selectors.get_article(article_id)
        data = _article_changes(dict(self.validate(KbArticleUpdateInput, request.data)))
        article = services.update_article(article=article, actor=self.membership, **data)
        return Response(KbArticleOutput(selectors.get_article(article.id)).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, article_id: UUID) -> Response:
        article = selectors.get_article(article_id)
        services.delete_article(article=article, actor=self.membership)
        return Response(status=http.HTTP_204_NO_CONTENT)


class KbRevisionListAPI(TenantAPIView):
    pagination_class = None

    @extend_schema(responses=KbRevisionOutput(many=True))
    def get(self, request: Request, article_id: UUID) -> Response:
        """The article's revisions, newest first."""
        article = selectors.get_article(article_id)
        return Response(KbRevisionOutput(selectors.list_revisions(article), many=True).data)


class KbRevisionDetailAPI(TenantAPIView):
    pagination_class = None

    @extend_schema(responses=KbRevisionDetailOutput)
    def get(self, request: Request, article_id: UUID, number: int) -> Response:
        """One revision with its diff against the one before."""
        article = selectors.get_article(article_id)
        return Response(KbRevisionDetailOutput(selectors.get_revision(article, number)).data)


class KbRevisionRestoreAPI(TenantAPIView):
    permission_classes = [IsTenantMember, CanWriteArticlesOrReadOnly]
    pagination_class = None

    @extend_schema(request=None, responses=KbArticleOutput)
    def post(self, request: Request, article_id: UUID, number: int) -> Response:
        """Make the revision's title and body current again (a new revision)."""
        article = selectors.get_article(article_id)
        revision = selectors.get_revision(article, number)
        article = services.restore_revision(
            article=article, revision=revision, actor=self.membership
        )
        return Response(KbArticleOutput(selectors.get_article(article.id)).data)


class KbTranslationListAPI(TenantAPIView):
    """An article's translations. Every member reads; agents and admins write."""

    permission_classes = [IsTenantMember, CanWriteArticlesOrReadOnly]
    pagination_class = None

    @extend_schema(responses=KbTranslationOutput(many=True))
    def get(self, request: MemberRequest, article_id: UUID) -> Response:
        """The article's translations by language (a short list, answered whole)."""
        article = selectors.get_article(article_id)
        return Response(KbTranslationOutput(selectors.list_translations(article), many=True).data)

    @extend_schema(request=KbTranslationInput, responses={201: KbTranslationOutput})
    def post(self, request: MemberRequest, article_id: UUID) -> Response:
        """A translation into a language the help desk offers other than the tenant's
        (400 `invalid_translation` naming them; 409 `translation_exists`)."""
        article = selectors.get_article(article_id)
        data = self.validate(KbTranslationInput, request.data)
        translation = services.create_translation(
            article=article,
            own_language=request.tenant.language,
            actor=self.membership,
            **data,
        )
        return Response(KbTranslationOutput(translation).data, status=http.HTTP_201_CREATED)


class KbTranslationDetailAPI(TenantAPIView):
    """One translation of an article, addressed by its language code."""

    permission_classes = [IsTenantMember, CanWriteArticlesOrReadOnly]
    pagination_class = None

    def _translation(self, request: MemberRequest, article_id: UUID, language: str) -> Any:
        return _find_translation(request, article_id, language)

    @extend_schema(responses=KbTranslationOutput)
    def get(self, request: MemberRequest, article_id: UUID, language: str) -> Response:
        """The translation (400 for a language not offered, 404 when there is none)."""
        return Response(KbTranslationOutput(self._translation(request, article_id, language)).data)

    @extend_schema(request=KbTranslationUpdateInput, responses=KbTranslationOutput)
    def patch(self, request: MemberRequest, article_id: UUID, language: str) -> Response:
        """Change the title and/or the body (rendered and sanitized again)."""
        translation = self._translation(request, article_id, language)
        data = self.validate(KbTranslationUpdateInput, request.data)
        translation = services.update_translation(
            translation=translation, actor=self.membership, **data
        )
        return Response(KbTranslationOutput(translation).data)

    @extend_schema(responses={204: None})
    def delete(self, request: MemberRequest, article_id: UUID, language: str) -> Response:
        """Remove the translation: readers get the article in its own language."""
        translation = self._translation(request, article_id, language)
        services.delete_translation(translation=translation, actor=self.membership)
        return Response(status=http.HTTP_204_NO_CONTENT)


def _find_translation(request: MemberRequest, article_id: UUID, language: str) -> Any:
    article = selectors.get_article(article_id)
    selectors.check_translation_language(language, own_language=request.tenant.language)
    return selectors.get_translation(article, language)


class KbTranslationRevisionListAPI(TenantAPIView):
    pagination_class = None

    @extend_schema(responses=KbTranslationRevisionOutput(many=True))
    def get(self, request: MemberRequest, article_id: UUID, language: str) -> Response:
        """The translation's revisions, newest first (every member)."""
        translation = _find_translation(request, article_id, language)
        revisions = selectors.list_translation_revisions(translation)
        return Response(KbTranslationRevisionOutput(revisions, many=True).data)


class KbTranslationRevisionRestoreAPI(TenantAPIView):
    permission_classes = [IsTenantMember, CanWriteArticlesOrReadOnly]
    pagination_class = None

    @extend_schema(request=None, responses=KbTranslationOutput)
    def post(
        self, request: MemberRequest, article_id: UUID, language: str, number: int
    ) -> Response:
        """Make the revision's title and body current again (a new revision)."""
        translation = _find_translation(request, article_id, language)
        revision = selectors.get_translation_revision(translation, number)
        translation = services.restore_translation_revision(
            translation=translation, revision=revision, actor=self.membership
        )
        return Response(KbTranslationOutput(translation).data)


class KbPreviewAPI(TenantAPIView):
    pagination_class = None

    @extend_schema(request=KbPreviewInput, responses=KbPreviewOutput)
    def post(self, request: Request) -> Response:
        """Markdown rendered and sanitized as an article shows it (nothing is saved)."""
        data = self.validate(KbPreviewInput, request.data)
        return Response({"html": render_markdown(data["body"])})


def _theme(tenant: Tenant) -> dict[str, Any]:
    return {
        "name": tenant.name,
        "brand_colour": tenant.brand_colour,
        "logo_url": "/help/logo/" if tenant.logo else None,
    }


class KbThemeAPI(TenantAPIView):
    """The help center's look: the name it shows, its accent colour and its logo. Every
    member reads; admins change it."""

    permission_classes = [IsTenantMember, IsTenantAdminOrReadOnly]
    pagination_class = None

    @extend_schema(responses=KbThemeOutput)
    def get(self, request: MemberRequest) -> Response:
        return Response(KbThemeOutput(_theme(request.tenant)).data)

    @extend_schema(request=KbThemeUpdateInput, responses=KbThemeOutput)
    def patch(self, request: MemberRequest) -> Response:
        """Change the name and/or the colour (400 `invalid_branding` with the field)."""
        data = self.validate(KbThemeUpdateInput, request.data)
        tenant = tenancy_services.update_branding(
            tenant=request.tenant, actor=self.membership, **data
        )
        return Response(KbThemeOutput(_theme(tenant)).data)


class KbThemeLogoAPI(TenantAPIView):
    """The help center's logo, as a multipart upload (`file`). Admins only."""

    permission_classes = [IsTenantMember, IsTenantAdmin]
    pagination_class = None

    @extend_schema(request={"multipart/form-data": KbThemeLogoInput}, responses=KbThemeOutput)
    def put(self, request: MemberRequest) -> Response:
        """Upload a new logo, replacing the old one: PNG, JPEG, GIF or WebP by its content,
        at most 512 KB (400 `invalid_branding` otherwise)."""
        data = self.validate(KbThemeLogoInput, request.data)
        tenant = tenancy_services.set_logo(
            tenant=request.tenant, actor=self.membership, upload=data["file"]
        )
        return Response(KbThemeOutput(_theme(tenant)).data)

    @extend_schema(responses={204: None})
    def delete(self, request: MemberRequest) -> Response:
        """Remove the logo: the help center shows the name alone."""
        tenancy_services.remove_logo(tenant=request.tenant, actor=self.membership)
        return Response(status=http.HTTP_204_NO_CONTENT)
