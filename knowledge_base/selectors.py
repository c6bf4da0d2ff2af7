"""Reads for the knowledge base.

`public_only` is what a customer may read: published and public. Agents (every member,
light agents too) read internal articles and drafts."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db.models import Q, QuerySet

from helpdesk.core.errors import NotFound
from knowledge_base.errors import (
    ArticleNotFound,
    CategoryNotFound,
    InvalidTranslation,
    RevisionNotFound,
    SectionNotFound,
    TranslationNotFound,
)
from knowledge_base.models import (
    Article,
    ArticleImage,
    ArticleRelation,
    ArticleRevision,
    ArticleSlug,
    ArticleStatus,
    ArticleTranslation,
    ArticleTranslationRevision,
    ArticleVisibility,
    Category,
    Section,
)


def list_categories() -> QuerySet[Category]:
    return Category.objects.order_by("position", "name")


def _as_id(value: Any, missing: NotFound) -> UUID:
    """A posted id as a UUID; `missing` raised for text that is none (a bad form field)."""
    try:
        return value if isinstance(value, UUID) else UUID(str(value))
    except ValueError:
        raise missing from None


def get_category(category_id: Any) -> Category:
    category = Category.objects.filter(id=_as_id(category_id, CategoryNotFound())).first()
    if category is None:
        raise CategoryNotFound()
    return category


def find_category(value: Any) -> Category:
    """A category by id or slug (the API takes either)."""
    try:
        return get_category(UUID(str(value)))
    except ValueError:
        category = list_categories().filter(slug=str(value)).first()
        if category is None:
            raise CategoryNotFound() from None
        return category


def list_sections(category: Category | None = None) -> QuerySet[Section]:
    sections = Section.objects.select_related("category")
    if category is not None:
        sections = sections.filter(category=category)
    return sections.order_by("category__position", "category__name", "position", "name")


def get_section(section_id: Any) -> Section:
    sections = Section.objects.select_related("category")
    section = sections.filter(id=_as_id(section_id, SectionNotFound())).first()
    if section is None:
        raise SectionNotFound()
    return section


def _public(articles: QuerySet[Article]) -> QuerySet[Article]:
    return articles.filter(status=ArticleStatus.PUBLISHED, visibility=ArticleVisibility.PUBLIC)


def list_articles(*, published_only: bool = False, public_only: bool = False) -> QuerySet[Article]:
    """Articles by category, section and position. `published_only` leaves internal
    articles in (agents' picker); `public_only` is what customers may read."""
    articles = Article.objects.select_related("category", "section", "author__user")
    if published_only:
        articles = articles.filter(status=ArticleStatus.PUBLISHED)
    if public_only:
        articles = _public(articles)
    return articles.order_by(
        "category__position",
        "category__name",
        "section__position",
        "section__name",
        "position",
        "title",
    )


def filter_articles(
    articles: QuerySet[Article],
    *,
    q: str = "",
    status: str = "",
    visibility: str = "",
    category: Any = None,
    tag: str = "",
) -> QuerySet[Article]:
    """The agent list's and the API's filters (unknown values match nothing)."""
    for word in q.split()[:8]:
        articles = articles.filter(
            Q(title__icontains=word) | Q(body__icontains=word) | Q(tags__contains=[word.lower()])
        )
    if status:
        articles = articles.filter(status=status)
    if visibility:
        articles = articles.filter(visibility=visibility)
    if category:
        articles = articles.filter(category_id=category)
    if tag:
        articles = articles.filter(tags__contains=[tag.lower()])
    return articles


def get_article(article_id: Any) -> Article:
    article = list_articles().filter(id=article_id).first()
    if article is None:
        raise ArticleNotFound()
    return article


def get_article_by_slug(
    slug: str, *, published_only: bool = False, public_only: bool = False
) -> Article:
    article = (
        list_articles(published_only=published_only, public_only=public_only)
        .filter(slug=slug)
        .first()
    )
    if article is None:
        raise ArticleNotFound(slug=slug)
    return article


def find_article_by_slug(
    slug: str, *, published_only: bool = False, public_only: bool = False
) -> tuple[Article, bool]:
    """The article at the slug, or the one that had it before a title change: (article,
    moved). Moved means: redirect to `article.slug`."""
    try:
        return get_article_by_slug(
            slug, published_only=published_only, public_only=public_only
        ), False
    except ArticleNotFound:
        former = ArticleSlug.objects.filter(slug=slug).values_list("article_id", flat=True)
        articles = list_articles(published_only=published_only, public_only=public_only)
        article = articles.filter(id__in=former).first()
        if article is None:
            raise
        return article, True


def search_published_articles(
    query: str, *, limit: int = 20, public_only: bool = True
) -> list[Article]:
    """Published articles whose title, text or tags hold the words. Customers see public
    ones only; the reply editor's picker passes public_only=False for internal ones too."""
    articles = list_articles(published_only=True, public_only=public_only)
    articles = filter_articles(articles, q=query)
    return list(articles.order_by("-times_sent", "title")[:limit])


def related_articles(article: Article, *, public_only: bool = False) -> list[Article]:
    ids = list(
        ArticleRelation.objects.filter(article=article)
        .order_by("position")
        .values_list("related_id", flat=True)
    )
    found = {a.id: a for a in list_articles(public_only=public_only).filter(id__in=ids)}
    return [found[i] for i in ids if i in found]


def most_sent(*, limit: int = 10) -> list[Article]:
    """The articles agents send most from the reply editor."""
    return list(list_articles().filter(times_sent__gt=0).order_by("-times_sent", "title")[:limit])


def list_revisions(article: Article) -> QuerySet[ArticleRevision]:
    return ArticleRevision.objects.filter(article=article).select_related("author__user")


def get_revision(article: Article, number: Any) -> ArticleRevision:
    try:
        number = int(number)
    except (TypeError, ValueError):
        raise RevisionNotFound() from None
    revision = list_revisions(article).filter(number=number).first()
    if revision is None:
        raise RevisionNotFound()
    return revision


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "same", "added", "removed", "context" (a @@ hunk header)
    text: str


def revision_diff(revision: ArticleRevision) -> list[DiffLine]:
    """What the revision changed against the one before (title as the first line)."""
    previous = (
        ArticleRevision.objects.filter(article_id=revision.article_id, number__lt=revision.number)
        .order_by("-number")
        .first()
    )
    old = [] if previous is None else [f"# {previous.title}", *previous.body.splitlines()]
    new = [f"# {revision.title}", *revision.body.splitlines()]
    lines: list[DiffLine] = []
    for line in difflib.unified_diff(old, new, lineterm="", n=3):
        if line.startswith(("---", "+++")):
            continue
        if line.startswith("@@"):
            lines.append(DiffLine("context", line))
        elif line.startswith("+"):
            lines.append(DiffLine("added", line[1:]))
        elif line.startswith("-"):
            lines.append(DiffLine("removed", line[1:]))
        else:
            lines.append(DiffLine("same", line[1:]))
    return lines


def get_image(image_id: Any) -> ArticleImage:
    image = ArticleImage.objects.select_related("article").filter(id=image_id).first()
    if image is None:
        raise ArticleNotFound()
    return image


def language_base(code: str) -> str:
    """A language code as translations store it: the base, lower case ("de-AT" → "de")."""
    return (code or "").strip().split("-")[0].split("_")[0].lower()


def translation_languages(own_language: str) -> list[tuple[str, str]]:
    """The languages an article may be translated into: the ones the help desk offers
    (settings.LANGUAGES) except the tenant's own, which is the article's (code, name)."""
    own = language_base(own_language or "en")
    return [(code, name) for code, name in settings.LANGUAGES if code != own]


def check_translation_language(language: str, *, own_language: str) -> str:
    """`language` as stored, when articles may be translated into it. Raises
    InvalidTranslation naming the languages that are offered."""
    code = language_base(language)
    offered = translation_languages(own_language)
    if code not in {c for c, _ in offered}:
        names = ", ".join(f"{c} ({n})" for c, n in offered) or "none"
        if code == language_base(own_language or "en"):
            raise InvalidTranslation(
                f"“{language}” is the help center's own language: edit the article itself."
                f" Translations: {names}."
            )
        raise InvalidTranslation(f"No language “{language[:16]}” here. Translations: {names}.")
    return code


def list_translations(article: Article) -> QuerySet[ArticleTranslation]:
    """The article's translations by language."""
    return ArticleTranslation.objects.filter(article=article).order_by("language")


def get_translation(article: Article, language: str) -> ArticleTranslation:
    """The article's translation into `language` (a code, any case). Raises
    TranslationNotFound."""
    translation = list_translations(article).filter(language=language_base(language)).first()
    if translation is None:
        raise TranslationNotFound(language=language_base(language))
    return translation


def list_translation_revisions(
    translation: ArticleTranslation,
) -> QuerySet[ArticleTranslationRevision]:
    """The translation's revisions, newest first, with their authors."""
    return ArticleTranslationRevision.objects.filter(translation=translation).select_related(
        "author__user"
    )


def get_translation_revision(
    translation: ArticleTranslation, number: Any
) -> ArticleTranslationRevision:
    """One revision of the translation by number. Raises RevisionNotFound."""
    revision = list_translation_revisions(translation).filter(number=number).first()
    if revision is None:
        raise RevisionNotFound()
    return revision
