"""Knowledge-base writes: categories, sections, articles and their revisions, images.

Agents and admins write (`Capability.WRITE_ARTICLES`); light agents read. Every save of
an article that changes what readers see (title, body, status, visibility) is a numbered
`ArticleRevision` with its author; a new title gives a new slug and keeps the old one in
`ArticleSlug`, so links already sent keep working (they redirect). The body is stored as
Markdown and, beside it, as sanitized HTML (`rendering.render_markdown`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify

from helpdesk.tenancy import audit, permissions
from helpdesk.tenancy.context import require_tenant_id
from helpdesk.tenancy.models import AuditAction, Membership
from helpdesk.tenancy.permissions import Capability
from knowledge_base import selectors
from knowledge_base.errors import (
    ArticleChanged,
    CategoryNotEmpty,
    InvalidArticle,
    InvalidImage,
    InvalidTranslation,
    TranslationExists,
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
from knowledge_base.rendering import render_markdown

TITLE_LENGTH = 200
BODY_LENGTH = 200_000
MAX_TAGS = 20
TAG_LENGTH = 50
MAX_RELATED = 20
IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}
IMAGE_BYTES = 5 * 1024 * 1024
# The first bytes of each allowed image type: the declared type is not believed alone.
_IMAGE_MAGIC = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
}


def _require(actor: Membership | None) -> None:
    permissions.require(actor, Capability.WRITE_ARTICLES)


def _name(value: str, what: str, length: int = 120) -> str:
    value = (value or "").strip()
    if not value:
        raise InvalidArticle(f"The {what} needs a name.")
    if len(value) > length:
        raise InvalidArticle(f"The {what}'s name has at most {length} characters.")
    return value


def _unique_slug(model: type[Category] | type[Section], name: str, **scope: Any) -> str:
    base = slugify(name)[:100] or model.__name__.lower()
    slug, n = base, 1
    while model.objects.filter(slug=slug, **scope).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


# --- Categories and sections -------------------------------------------------------------


@transaction.atomic
def create_category(
    *,
    name: str,
    position: int = 0,
    description: str = "",
    actor: Membership | None = None,
) -> Category:
    """A category; a second one with the same name gets its own slug (billing-2)."""
    _require(actor)
    name = _name(name, "category")
    category = Category.objects.create(
        name=name,
        slug=_unique_slug(Category, name),
        position=position,
        description=description.strip(),
    )
    audit.record_settings_change(
        actor=actor, what="kb_category", target=category, label=category.name, change="created"
    )
    return category


@transaction.atomic
def update_category(*, category: Category, actor: Membership | None, **changes: Any) -> Category:
    """Change name, description or position (the slug stays: links keep working)."""
    _require(actor)
    if "name" in changes:
        category.name = _name(changes["name"], "category")
    if "description" in changes:
        category.description = (changes["description"] or "").strip()
    if "position" in changes:
        category.position = changes["position"]
    category.save()
    audit.record_settings_change(
        actor=actor,
        what="kb_category",
        target=category,
        label=category.name,
        details={"changed": ", ".join(sorted(changes))},
    )
    return category


@transaction.atomic
def delete_category(*, category: Category, actor: Membership | None) -> None:
    _require(actor)
    if Article.objects.filter(category=category).exists():
        raise CategoryNotEmpty()
    audit.record_settings_change(
        actor=actor, what="kb_category", target=category, label=category.name, change="deleted"
    )
    category.delete()


@transaction.atomic
def create_section(
    *, category: Category, name: str, position: int = 0, actor: Membership | None = None
) -> Section:
    _require(actor)
    name = _name(name, "section")
    section = Section.objects.create(
        category=category,
        name=name,
        slug=_unique_slug(Section, name, category=category),
        position=position,
    )
    audit.record_settings_change(
        actor=actor,
        what="kb_section",
        target=section,
        label=f"{category.name} / {section.name}",
        change="created",
    )
    return section


@transaction.atomic
def update_section(*, section: Section, actor: Membership | None, **changes: Any) -> Section:
    _require(actor)
    if "name" in changes:
        section.name = _name(changes["name"], "section")
    if "position" in changes:
        section.position = changes["position"]
    if "category" in changes and changes["category"].id != section.category_id:
        section.category = changes["category"]
        # Section slugs are unique per category: only a namesake there changes its slug.
        if Section.objects.filter(category=section.category, slug=section.slug).exists():
            section.slug = _unique_slug(Section, section.slug, category=section.category)
        # Its articles follow it into the new category.
        Article.objects.filter(section=section).update(category=section.category)
    section.save()
    audit.record_settings_change(
        actor=actor,
        what="kb_section",
        target=section,
        label=f"{section.category.name} / {section.name}",
        details={"changed": ", ".join(sorted(changes))},
    )
    return section


@transaction.atomic
def delete_section(*, section: Section, actor: Membership | None) -> None:
    """The section goes; its articles stay in the category, outside any section."""
    _require(actor)
    audit.record_settings_change(
        actor=actor,
        what="kb_section",
        target=section,
        label=f"{section.category.name} / {section.name}",
        change="deleted",
    )
    section.delete()


# --- Articles -------------------------------------------------------------------------------


# Paths of the agent pages (/kb/), the help center and the customer portal (/help/) that
# an article slug must not hide (tests/knowledge_base/test_authoring.py reads them from the
# URLconf; knowledge_base migration 0011 renamed articles that had taken one).
RESERVED_SLUGS = frozenset(
    {
        "new",
        "categories",
        "preview",
        "theme",
        "images",
        "search",
        "suggest",
        "request",
        "logo",
        "theme-css",
        "sign-in",
        "sign-out",
        "requests",
        "my-data",
    }
)


def _slug_taken(slug: str, article: Article | None) -> bool:
    if slug in RESERVED_SLUGS:
        return True
    current = Article.objects.filter(slug=slug)
    former = ArticleSlug.objects.filter(slug=slug)
    if article is not None:
        current = current.exclude(id=article.id)
        former = former.exclude(article=article)
    return current.exists() or former.exists()


def _article_slug(title: str, article: Article | None = None) -> str:
    base = slugify(title)[:190] or "article"
    slug, n = base, 1
    while _slug_taken(slug, article):
        n += 1
        slug = f"{base}-{n}"
    return slug


def _clean_title(title: str) -> str:
    title = " ".join((title or "").split())
    if not title:
        raise InvalidArticle("The article needs a title.")
    if len(title) > TITLE_LENGTH:
        raise InvalidArticle(f"The title has at most {TITLE_LENGTH} characters.")
    return title


def _clean_body(body: str) -> str:
    if body is None or not body.strip():
        raise InvalidArticle("The article needs a body.")
    if len(body) > BODY_LENGTH:
        raise InvalidArticle(f"The body has at most {BODY_LENGTH:,} characters.")
    return body


def clean_tags(tags: Iterable[str]) -> list[str]:
    """Tags as stored: trimmed, lower case, no repeats, in the order given."""
    cleaned: list[str] = []
    for tag in tags:
        value = " ".join(str(tag).split()).lower()
        if not value:
            continue
        if len(value) > TAG_LENGTH:
            raise InvalidArticle(f"A tag has at most {TAG_LENGTH} characters.")
        if value not in cleaned:
            cleaned.append(value)
    if len(cleaned) > MAX_TAGS:
        raise InvalidArticle(f"An article has at most {MAX_TAGS} tags.")
    return cleaned


def _check_section(category: Category, section: Section | None) -> None:
    if section is not None and section.category_id != category.id:
        raise InvalidArticle(f"The section “{section.name}” is not in “{category.name}”.")


def _check_choice(value: str, choices: Sequence[str], what: str) -> str:
    if value not in choices:
        raise InvalidArticle(f"{what} is one of: {', '.join(choices)}.")
    return value


def _revision(article: Article, actor: Membership | None, note: str = "") -> ArticleRevision:
    article.revision_count = F("revision_count") + 1
    article.save(update_fields=["revision_count", "updated_at"])
    article.refresh_from_db(fields=["revision_count"])
    return ArticleRevision.objects.create(
        article=article,
        number=article.revision_count,
        title=article.title,
        body=article.body,
        status=article.status,
        visibility=article.visibility,
        author=actor,
        note=note[:200],
    )


def _set_related(article: Article, related: Sequence[Article]) -> None:
    if len(related) > MAX_RELATED:
        raise InvalidArticle(f"An article lists at most {MAX_RELATED} related articles.")
    ArticleRelation.objects.filter(article=article).delete()
    seen: set[Any] = set()
    rows: list[ArticleRelation] = []
    for other in related:
        if other.id == article.id or other.id in seen:
            continue
        seen.add(other.id)
        rows.append(ArticleRelation(article=article, related=other, position=len(rows)))
    for row in rows:
        row.save()


@transaction.atomic
def create_article(
    *,
    category: Category,
    title: str,
    body: str,
    author: Membership | None = None,
    publish: bool = False,
    status: str | None = None,
    visibility: str = ArticleVisibility.PUBLIC,
    section: Section | None = None,
    tags: Iterable[str] = (),
    related: Sequence[Article] = (),
    source_ticket_number: int | None = None,
    position: int = 0,
) -> Article:
    """A new article (a draft unless publish or status says published), written by
    `author` (None: the system), with revision 1. Its slug comes from the title; a title
    another article has gets a numbered slug (reset-a-password-2)."""
    _require(author)
    title, body = _clean_title(title), _clean_body(body)
    if status is None:
        status = ArticleStatus.PUBLISHED if publish else ArticleStatus.DRAFT
    _check_choice(status, ArticleStatus.values, "status")
    _check_choice(visibility, ArticleVisibility.values, "visibility")
    _check_section(category, section)
    article = Article.objects.create(
        category=category,
        section=section,
        title=title,
        slug=_article_slug(title),
        body=body,
        body_html=render_markdown(body),
        author=author,
        status=status,
        visibility=visibility,
        tags=clean_tags(tags),
        published_at=timezone.now() if status == ArticleStatus.PUBLISHED else None,
        source_ticket_number=source_ticket_number,
        position=position,
    )
    _set_related(article, related)
    _revision(article, author, "Created")
    _audit_article(AuditAction.ARTICLE_CREATED, article, author)
    return article


def _audit_article(
    action: AuditAction, article: Article, actor: Membership | None, **extra: Any
) -> None:
    """An article created, changed, published, unpublished or deleted, with where it
    stands. Never its text: the revision history keeps that."""
    audit.record_audit_event(
        action=action,
        actor=actor,
        target_type="article",
        target_id=article.id,
        target_label=article.title,
        details={
            "slug": article.slug,
            "status": str(article.status),
            "visibility": str(article.visibility),
            **extra,
        },
    )


_REVISED = ("title", "body", "status", "visibility")


@transaction.atomic
def update_article(
    *,
    article: Article,
    actor: Membership | None,
    note: str = "",
    expected_revision: int | None = None,
    **changes: Any,
) -> Article:
    """Change any of title, body, category, section, status, visibility, tags, related
    and position. A new title moves the slug and keeps the old one (it redirects); a change
    of title, body, status or visibility is a new revision.

    `expected_revision`: the revision the writer started from (the editor sends every
    field back, so a save made from an older copy would undo the changes saved since);
    ArticleChanged when the article has moved on."""
    _require(actor)
    article = Article.objects.select_for_update().get(id=article.id)
    if expected_revision is not None and article.revision_count != expected_revision:
        raise ArticleChanged(current=article.revision_count)
    before = {field: getattr(article, field) for field in _REVISED}
    if "title" in changes:
        article.title = _clean_title(changes["title"])
        if article.title != before["title"]:
            new_slug = _article_slug(article.title, article)
            if new_slug != article.slug:
                ArticleSlug.objects.filter(slug=new_slug, article=article).delete()
                ArticleSlug.objects.get_or_create(article=article, slug=article.slug)
                article.slug = new_slug
    if "body" in changes:
        article.body = _clean_body(changes["body"])
        article.body_html = render_markdown(article.body)
    if "category" in changes:
        article.category = changes["category"]
        if "section" not in changes and article.section_id is not None:
            article.section = None
    if "section" in changes:
        article.section = changes["section"]
    _check_section(article.category, article.section)
    if "status" in changes:
        article.status = _check_choice(changes["status"], ArticleStatus.values, "status")
        if article.status == ArticleStatus.PUBLISHED and article.published_at is None:
            article.published_at = timezone.now()
    if "visibility" in changes:
        article.visibility = _check_choice(
            changes["visibility"], ArticleVisibility.values, "visibility"
        )
    if "tags" in changes:
        article.tags = clean_tags(changes["tags"])
    if "position" in changes:
        article.position = changes["position"]
    article.save()
    if "related" in changes:
        _set_related(article, changes["related"])
    revised = [field for field in _REVISED if getattr(article, field) != before[field]]
    if revised:
        revision = _revision(article, actor, note)
        # A change of status alone is on record as published / unpublished below.
        if set(revised) - {"status"}:
            _audit_article(
                AuditAction.ARTICLE_UPDATED,
                article,
                actor,
                revision=revision.number,
                changed=[field for field in revised if field != "status"],
            )
    if article.status != before["status"]:
        published = article.status == ArticleStatus.PUBLISHED
        _audit_article(
            AuditAction.ARTICLE_PUBLISHED if published else AuditAction.ARTICLE_UNPUBLISHED,
            article,
            actor,
        )
    return article


def publish_article(*, article: Article, actor: Membership | None) -> Article:
    return update_article(
        article=article, actor=actor, status=ArticleStatus.PUBLISHED, note="Published"
    )


@transaction.atomic
def restore_revision(
    *, article: Article, revision: ArticleRevision, actor: Membership | None
) -> Article:
    """The article's title and body as they were in the revision, as a new revision (the
    history keeps everything in between). Status and visibility stay as they are now."""
    return update_article(
        article=article,
        actor=actor,
        title=revision.title,
        body=revision.body,
        note=f"Restored revision {revision.number}",
    )


@transaction.atomic
def delete_article(*, article: Article, actor: Membership | None) -> None:
    _require(actor)
    _audit_article(AuditAction.ARTICLE_DELETED, article, actor)
    for image in ArticleImage.objects.filter(article=article):
        image.file.delete(save=False)
    article.delete()


@transaction.atomic
def add_image(
    *, article: Article, upload: UploadedFile[bytes], actor: Membership | None
) -> ArticleImage:
    """An image for the article (PNG, JPEG, GIF or WebP, at most 5 MB); the Markdown
    shows it as `![alt](/kb/images/<id>/)`."""
    _require(actor)
    content_type = (upload.content_type or "").lower()
    if content_type not in IMAGE_TYPES:
        raise InvalidImage("Images are PNG, JPEG, GIF or WebP.")
    size = upload.size or 0
    if size == 0 or size > IMAGE_BYTES:
        raise InvalidImage("An image has at most 5 MB (and is not empty).")
    head = upload.read(16)
    upload.seek(0)
    if not head.startswith(_IMAGE_MAGIC[content_type]):
        raise InvalidImage(f"The file is not a {content_type.split('/')[1].upper()} image.")
    image = ArticleImage(
        article=article,
        filename=(upload.name or "image")[:255],
        content_type=content_type,
        size=size,
        uploaded_by=actor,
    )
    image.file.save(upload.name or "image", upload, save=False)
    image.save()
    return image


def record_sent(*, article_ids: Iterable[Any]) -> list[Article]:
    """Count the articles as sent once more (tickets records where); the ones that exist."""
    articles = list(selectors.list_articles().filter(id__in=list(article_ids)))
    Article.objects.filter(id__in=[a.id for a in articles]).update(times_sent=F("times_sent") + 1)
    return articles


# --- Translations ---------------------------------------------------------------------------


def _clean_translation(title: str, body: str) -> tuple[str, str]:
    try:
        return _clean_title(title), _clean_body(body)
    except InvalidArticle as error:
        raise InvalidTranslation(str(error).replace("The article", "The translation")) from None


def _translation_revision(
    translation: ArticleTranslation, actor: Membership | None, note: str = ""
) -> ArticleTranslationRevision:
    """The translation as saved now, numbered after its last revision (the caller holds
    the translation's row lock, so two saves never take one number)."""
    last = (
        ArticleTranslationRevision.objects.filter(translation=translation)
        .order_by("-number")
        .values_list("number", flat=True)
        .first()
    )
    return ArticleTranslationRevision.objects.create(
        translation=translation,
        number=(last or 0) + 1,
        title=translation.title,
        body=translation.body,
        author=actor,
        note=note[:200],
    )


@transaction.atomic
def create_translation(
    *,
    article: Article,
    language: str,
    title: str,
    body: str,
    own_language: str,
    actor: Membership | None,
) -> ArticleTranslation:
    """The article in another language the help desk offers (`own_language`, the tenant's,
    is the article's own and cannot be a translation). The body is Markdown, rendered and
    sanitized like the article's; its search document is kept by a trigger (migration
    0008). Raises InvalidTranslation, TranslationExists."""
    _require(actor)
    code = selectors.check_translation_language(language, own_language=own_language)
    title, body = _clean_translation(title, body)
    article = Article.objects.select_for_update().get(id=article.id)
    if ArticleTranslation.objects.filter(article=article, language=code).exists():
        raise TranslationExists(language=code)
    translation = ArticleTranslation.objects.create(
        article=article,
        language=code,
        title=title,
        body=body,
        body_html=render_markdown(body),
    )
    _translation_revision(translation, actor, "Created")
    _audit_translation(AuditAction.TRANSLATION_CREATED, translation, actor)
    return translation


def _audit_translation(
    action: AuditAction, translation: ArticleTranslation, actor: Membership | None
) -> None:
    audit.record_audit_event(
        action=action,
        actor=actor,
        target_type="article_translation",
        target_id=translation.id,
        target_label=translation.title,
        details={"language": translation.language, "article": str(translation.article_id)},
    )


@transaction.atomic
def update_translation(
    *,
    translation: ArticleTranslation,
    actor: Membership | None,
    note: str = "",
    **changes: Any,
) -> ArticleTranslation:
    """Change a translation's title and/or body (rendered and sanitized again); a change
    is a new revision of the translation. Raises InvalidTranslation."""
    _require(actor)
    translation = ArticleTranslation.objects.select_for_update().get(id=translation.id)
    title, body = _clean_translation(
        changes.get("title", translation.title), changes.get("body", translation.body)
    )
    if title == translation.title and body == translation.body:
        return translation
    translation.title, translation.body = title, body
    translation.body_html = render_markdown(body)
    translation.save(update_fields=["title", "body", "body_html", "updated_at"])
    _translation_revision(translation, actor, note)
    _audit_translation(AuditAction.TRANSLATION_UPDATED, translation, actor)
    return translation


def restore_translation_revision(
    *,
    translation: ArticleTranslation,
    revision: ArticleTranslationRevision,
    actor: Membership | None,
) -> ArticleTranslation:
    """The translation's title and body as they were in the revision, as a new revision.
    Raises InvalidTranslation when the revision is another translation's."""
    if revision.translation_id != translation.id:
        raise InvalidTranslation("That revision is another translation's.")
    return update_translation(
        translation=translation,
        actor=actor,
        title=revision.title,
        body=revision.body,
        note=f"Restored revision {revision.number}",
    )


@transaction.atomic
def save_translation(
    *,
    article: Article,
    language: str,
    title: str,
    body: str,
    own_language: str,
    actor: Membership | None,
) -> tuple[ArticleTranslation, bool]:
    """Create the translation into `language` or change the one there is (the editor's
    single form). Returns (translation, created). Raises InvalidTranslation."""
    code = selectors.check_translation_language(language, own_language=own_language)
    existing = ArticleTranslation.objects.filter(article=article, language=code).first()
    if existing is None:
        created = create_translation(
            article=article,
            language=code,
            title=title,
            body=body,
            own_language=own_language,
            actor=actor,
        )
        return created, True
    return update_translation(translation=existing, actor=actor, title=title, body=body), False


@transaction.atomic
def delete_translation(*, translation: ArticleTranslation, actor: Membership | None) -> None:
    """Remove a translation: its readers see the article in its own language again."""
    _require(actor)
    _audit_translation(AuditAction.TRANSLATION_DELETED, translation, actor)
    translation.delete()


# --- Search documents -----------------------------------------------------------------------


@transaction.atomic
def rebuild_search_documents() -> tuple[int, int]:
    """Compute the current tenant's search documents again: the articles' in the tenant's
    language (after it changed), the translations' each in its own. Setting the column to
    NULL asks the triggers of migrations 0007 and 0008 for it. The help center's word list
    for typo correction follows within VOCABULARY_SECONDS. Returns (articles, translations).
    """
    tenant_id = require_tenant_id()
    counts = []
    with connection.cursor() as cursor:
        for table in ("knowledge_base_article", "knowledge_base_articletranslation"):
            # Scoped by hand as well as by the policy: the ORM does not know the column.
            cursor.execute(
                f"UPDATE {table} SET search_document = NULL WHERE tenant_id = %s",  # noqa: S608
                [tenant_id],
            )
            counts.append(cursor.rowcount)
    return counts[0], counts[1]
