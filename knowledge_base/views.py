"""Agent pages of the knowledge base: the list (filters, most sent), an article, its editor
with a live preview, its translations (the editor's language switcher), its revisions
(diff, restore), images, categories and sections. Every
member reads, internal articles and drafts too; agents and admins write. The public help
center is knowledge_base/public_views.py."""

from __future__ import annotations

from itertools import groupby
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from helpdesk.core.errors import DomainError
from helpdesk.core.views import not_found_page
from helpdesk.tenancy import permissions
from helpdesk.tenancy import services as tenancy_services
from helpdesk.tenancy.decorators import member_required
from helpdesk.tenancy.http import MemberHttpRequest
from helpdesk.tenancy.permissions import Capability
from knowledge_base import selectors, services
from knowledge_base.errors import (
    ArticleNotFound,
    InvalidTranslation,
    RevisionNotFound,
    TranslationNotFound,
)
from knowledge_base.forms import (
    ArticleForm,
    CategoryForm,
    ImageForm,
    SectionForm,
    ThemeForm,
    TranslationForm,
)
from knowledge_base.models import Article, ArticleStatus, ArticleVisibility
from knowledge_base.rendering import render_markdown
from knowledge_base.services import BODY_LENGTH

WRITE = Capability.WRITE_ARTICLES


def _grouped(articles: list[Any]) -> list[tuple[Any, list[Any]]]:
    return [
        (category, list(items)) for category, items in groupby(articles, key=lambda a: a.category)
    ]


@member_required
def article_list(request: MemberHttpRequest) -> HttpResponse:
    params = request.GET
    filters = {
        "q": params.get("q", "").strip()[:200],
        "status": params.get("status", "") if params.get("status") in ArticleStatus else "",
        "visibility": (
            params.get("visibility", "") if params.get("visibility") in ArticleVisibility else ""
        ),
        "tag": params.get("tag", "").strip()[:50],
    }
    articles = selectors.filter_articles(selectors.list_articles(), **filters)
    return render(
        request,
        "knowledge_base/article_list.html",
        {
            "grouped": _grouped(list(articles)),
            "filters": filters,
            "filtered": any(filters.values()),
            "most_sent": selectors.most_sent(limit=5),
            "statuses": ArticleStatus.choices,
            "visibilities": ArticleVisibility.choices,
        },
    )


def _find(request: HttpRequest, slug: str) -> tuple[Article | None, bool]:
    try:
        return selectors.find_article_by_slug(slug)
    except ArticleNotFound:
        return None, False


@member_required
def article_detail(request: MemberHttpRequest, slug: str) -> HttpResponse:
    article, moved = _find(request, slug)
    if article is None:
        return not_found_page(request, "That article")
    if moved:
        return redirect("knowledge_base:article-detail", article.slug, permanent=True)
    return render(
        request,
        "knowledge_base/article_detail.html",
        {
            "article": article,
            "body_html": article.body_html or render_markdown(article.body),
            "related": selectors.related_articles(article),
            "translations": [
                {
                    "language": translation.language,
                    "name": dict(settings.LANGUAGES).get(
                        translation.language, translation.language
                    ),
                    "title": translation.title,
                    "body_html": translation.body_html or render_markdown(translation.body),
                }
                for translation in selectors.list_translations(article)
            ],
        },
    )


def _initial(article: Article) -> dict[str, Any]:
    return {
        "title": article.title,
        "category": article.category_id,
        "section": article.section_id,
        "body": article.body,
        "status": article.status,
        "visibility": article.visibility,
        "tags": ", ".join(article.tags),
        "related": [r.id for r in selectors.related_articles(article)],
        "revision": article.revision_count,
    }


def _language_switcher(
    request: MemberHttpRequest, article: Article | None, current: str = ""
) -> list[dict[str, Any]]:
    """The editor's languages: the article's own (the tenant's) first, then each language
    it may be translated into, with whether a translation exists and which one is open."""
    if article is None:
        return []
    own = selectors.language_base(request.tenant.language or "en")
    names = dict(settings.LANGUAGES)
    existing = set(selectors.list_translations(article).values_list("language", flat=True))
    switcher = [
        {
            "code": own,
            "name": names.get(own, own),
            "own": True,
            "exists": True,
            "current": current == "",
            "url": reverse("knowledge_base:article-edit", args=[article.slug]),
        }
    ]
    for code, name in selectors.translation_languages(own):
        switcher.append(
            {
                "code": code,
                "name": name,
                "own": False,
                "exists": code in existing,
                "current": code == current,
                "url": reverse("knowledge_base:translation-edit", args=[article.slug, code]),
            }
        )
    return switcher


def _editor(
    request: MemberHttpRequest, form: ArticleForm, article: Article | None, status: int = 200
) -> HttpResponse:
    body = form["body"].value() or ""
    return render(
        request,
        "knowledge_base/article_form.html",
        {
            "form": form,
            "article": article,
            "languages": _language_switcher(request, article),
            "preview": render_markdown(str(body)),
            "images": list(article.images.all()) if article is not None else [],
            "image_form": ImageForm(),
        },
        status=status,
    )


@member_required(may=WRITE)
def article_new(request: MemberHttpRequest) -> HttpResponse:
    if not selectors.list_categories().exists():
        messages.error(request, "Add a category first: every article is in one.")
        return redirect("knowledge_base:categories")
    if request.method != "POST":
        return _editor(request, ArticleForm(), None)
    form = ArticleForm(request.POST)
    if form.is_valid():
        data = dict(form.cleaned_data)
        data.pop("note")
        data.pop("revision")
        try:
            article = services.create_article(author=request.membership, **data)
        except DomainError as error:
            form.add_error(None, str(error))
        else:
            messages.success(
                request, f"“{article.title}” saved as {article.get_status_display().lower()}."
            )
            return redirect("knowledge_base:article-edit", article.slug)
    return _editor(request, form, None, status=400)


@member_required(may=WRITE)
def article_edit(request: MemberHttpRequest, slug: str) -> HttpResponse:
    article, moved = _find(request, slug)
    if article is None:
        return not_found_page(request, "That article")
    if moved:
        return redirect("knowledge_base:article-edit", article.slug)
    if request.method != "POST":
        return _editor(
            request, ArticleForm(initial=_initial(article), exclude_id=article.id), article
        )
    form = ArticleForm(request.POST, exclude_id=article.id)
    if form.is_valid():
        data = dict(form.cleaned_data)
        note = data.pop("note")
        expected_revision = data.pop("revision")
        if "publish" in request.POST:
            data["status"] = ArticleStatus.PUBLISHED
        try:
            article = services.update_article(
                article=article,
                actor=request.membership,
                note=note,
                expected_revision=expected_revision,
                **data,
            )
        except DomainError as error:
            form.add_error(None, str(error))
        else:
            messages.success(
                request, f"“{article.title}” saved ({article.get_status_display().lower()})."
            )
            return redirect("knowledge_base:article-edit", article.slug)
    return _editor(request, form, article, status=400)


@member_required(may=WRITE)
def translation_edit(request: MemberHttpRequest, slug: str, language: str) -> HttpResponse:
    """The article in another language: title and Markdown body with the live preview,
    reached from the editor's language switcher. Saving creates or changes it."""
    article, moved = _find(request, slug)
    if article is None:
        return not_found_page(request, "That article")
    if moved:
        return redirect("knowledge_base:translation-edit", article.slug, language)
    own = request.tenant.language or "en"
    try:
        code = selectors.check_translation_language(language, own_language=own)
    except InvalidTranslation:
        return not_found_page(request, "That language")
    try:
        translation = selectors.get_translation(article, code)
    except TranslationNotFound:
        translation = None
    status = 200
    if request.method == "POST":
        form = TranslationForm(request.POST)
        status = 400
        if form.is_valid():
            try:
                translation, created = services.save_translation(
                    article=article,
                    language=code,
                    own_language=own,
                    actor=request.membership,
                    **form.cleaned_data,
                )
            except DomainError as error:
                form.add_error(None, str(error))
            else:
                name = dict(settings.LANGUAGES).get(code, code)
                messages.success(request, f"{name} translation {'added' if created else 'saved'}.")
                return redirect("knowledge_base:translation-edit", article.slug, code)
    elif translation is not None:
        form = TranslationForm(initial={"title": translation.title, "body": translation.body})
    else:
        form = TranslationForm(initial={"title": article.title, "body": article.body})
    body = form["body"].value() or ""
    return render(
        request,
        "knowledge_base/translation_form.html",
        {
            "form": form,
            "article": article,
            "translation": translation,
            "language": code,
            "language_name": dict(settings.LANGUAGES).get(code, code),
            "languages": _language_switcher(request, article, current=code),
            "preview": render_markdown(str(body)),
            "revisions": (
                list(selectors.list_translation_revisions(translation)[:20])
                if translation is not None
                else []
            ),
        },
        status=status,
    )


@member_required(may=WRITE)
@require_POST
def translation_revision_restore(
    request: MemberHttpRequest, slug: str, language: str, number: int
) -> HttpResponse:
    article, _ = _find(request, slug)
    if article is None:
        return not_found_page(request, "That article")
    try:
        translation = selectors.get_translation(article, language)
        revision = selectors.get_translation_revision(translation, number)
    except (TranslationNotFound, RevisionNotFound):
        return not_found_page(request, f"Revision {number}")
    services.restore_translation_revision(
        translation=translation, revision=revision, actor=request.membership
    )
    messages.success(request, f"Revision {number} restored.")
    return redirect("knowledge_base:translation-edit", article.slug, translation.language)


@member_required(may=WRITE)
@require_POST
def translation_delete(request: MemberHttpRequest, slug: str, language: str) -> HttpResponse:
    article, _ = _find(request, slug)
    if article is None:
        return not_found_page(request, "That article")
    try:
        translation = selectors.get_translation(article, language)
    except TranslationNotFound:
        return not_found_page(request, "That translation")
    services.delete_translation(translation=translation, actor=request.membership)
    name = dict(settings.LANGUAGES).get(translation.language, translation.language)
    messages.success(request, f"{name} translation deleted.")
    return redirect("knowledge_base:article-edit", article.slug)


@member_required(may=WRITE)
@require_POST
def article_delete(request: MemberHttpRequest, slug: str) -> HttpResponse:
    article, _ = _find(request, slug)
    if article is None:
        return not_found_page(request, "That article")
    services.delete_article(article=article, actor=request.membership)
    messages.success(request, f"“{article.title}” deleted.")
    return redirect("knowledge_base:article-list")


@member_required
@require_POST
def preview(request: MemberHttpRequest) -> HttpResponse:
    """The editor's live preview (htmx): the body rendered as readers will see it."""
    body = request.POST.get("body", "")[:BODY_LENGTH]
    return render(request, "knowledge_base/preview.html", {"preview": render_markdown(body)})


@member_required
def revision_list(request: MemberHttpRequest, slug: str) -> HttpResponse:
    article, moved = _find(request, slug)
    if article is None:
        return not_found_page(request, "That article")
    if moved:
        return redirect("knowledge_base:revision-list", article.slug)
    return render(
        request,
        "knowledge_base/revisions.html",
        {"article": article, "revisions": list(selectors.list_revisions(article))},
    )


@member_required
def revision_detail(request: MemberHttpRequest, slug: str, number: int) -> HttpResponse:
    article, _ = _find(request, slug)
    if article is None:
        return not_found_page(request, "That article")
    try:
        revision = selectors.get_revision(article, number)
    except RevisionNotFound:
        return not_found_page(request, f"Revision {number}")
    return render(
        request,
        "knowledge_base/revision_detail.html",
        {"article": article, "revision": revision, "diff": selectors.revision_diff(revision)},
    )


@member_required(may=WRITE)
@require_POST
def revision_restore(request: MemberHttpRequest, slug: str, number: int) -> HttpResponse:
    article, _ = _find(request, slug)
    if article is None:
        return not_found_page(request, "That article")
    try:
        revision = selectors.get_revision(article, number)
    except RevisionNotFound:
        return not_found_page(request, f"Revision {number}")
    article = services.restore_revision(
        article=article, revision=revision, actor=request.membership
    )
    messages.success(request, f"Revision {number} restored as revision {article.revision_count}.")
    return redirect("knowledge_base:revision-list", article.slug)


@member_required(may=WRITE)
@require_POST
def image_upload(request: MemberHttpRequest, slug: str) -> HttpResponse:
    article, _ = _find(request, slug)
    if article is None:
        return not_found_page(request, "That article")
    form = ImageForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "Choose an image to upload.")
        return redirect("knowledge_base:article-edit", article.slug)
    try:
        image = services.add_image(
            article=article, upload=form.cleaned_data["image"], actor=request.membership
        )
    except DomainError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request, f"Image uploaded: add ![{image.filename}](/kb/images/{image.id}/) to the text."
        )
    return redirect("knowledge_base:article-edit", article.slug)


def image(request: HttpRequest, image_id: Any) -> HttpResponseBase:
    """An article's image: for members always, for anyone else only when its article is
    published and public (the help center shows it)."""
    if getattr(request, "tenant", None) is None:
        return not_found_page(request, "That image")
    try:
        found = selectors.get_image(image_id)
    except ArticleNotFound:
        return not_found_page(request, "That image")
    if getattr(request, "membership", None) is None and not found.article.is_public:
        return not_found_page(request, "That image")
    response = FileResponse(found.file.open("rb"), content_type=found.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = "inline"
    response["Cache-Control"] = "private, max-age=3600"
    return response


@member_required
def categories(request: MemberHttpRequest) -> HttpResponse:
    """Categories and their sections, in order; agents and admins add and change them."""
    category_form, section_form = CategoryForm(prefix="category"), SectionForm(prefix="section")
    status = 200
    if request.method == "POST":
        if not permissions.can(request.membership, WRITE):
            return HttpResponse(
                "Light agents read the knowledge base but do not write it.", status=403
            )
        try:
            status = _save_category_or_section(request)
        except DomainError as error:
            messages.error(request, str(error))
            status = 400
        if status == 302:
            return redirect("knowledge_base:categories")
        if "category-name" in request.POST:
            category_form = CategoryForm(request.POST, prefix="category")
            category_form.is_valid()
        else:
            section_form = SectionForm(request.POST, prefix="section")
            section_form.is_valid()
    return render(
        request,
        "knowledge_base/categories.html",
        {
            "categories": list(selectors.list_categories().prefetch_related("sections")),
            "category_form": category_form,
            "section_form": section_form,
        },
        status=status,
    )


def _save_category_or_section(request: MemberHttpRequest) -> int:
    post = request.POST
    actor = request.membership
    if "delete-category" in post:
        services.delete_category(
            category=selectors.get_category(post["delete-category"]), actor=actor
        )
        messages.success(request, "Category deleted.")
        return 302
    if "delete-section" in post:
        services.delete_section(section=selectors.get_section(post["delete-section"]), actor=actor)
        messages.success(request, "Section deleted; its articles stay in the category.")
        return 302
    if "category-name" in post:
        form = CategoryForm(post, prefix="category")
        if not form.is_valid():
            return 400
        services.create_category(actor=actor, **form.cleaned_data)
        messages.success(request, f"Category “{form.cleaned_data['name']}” added.")
        return 302
    form_s = SectionForm(post, prefix="section")
    if not form_s.is_valid():
        return 400
    services.create_section(actor=actor, **form_s.cleaned_data)
    messages.success(request, f"Section “{form_s.cleaned_data['name']}” added.")
    return 302


@member_required(may=Capability.MANAGE_SETTINGS)
def theme(request: MemberHttpRequest) -> HttpResponse:
    """The help center's look (admins): the name it shows, the accent colour, the logo,
    with a preview of its header."""
    tenant = request.tenant
    initial = {"name": tenant.name, "brand_colour": tenant.brand_colour or "#2457c5"}
    form = ThemeForm(request.POST or None, request.FILES or None, initial=initial)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            colour = data["brand_colour"]
            if not tenant.brand_colour and colour == initial["brand_colour"]:
                colour = ""  # the default, shown in the colour picker, left as it was
            try:
                tenancy_services.update_branding(
                    tenant=tenant,
                    actor=request.membership,
                    name=data["name"],
                    brand_colour=colour,
                )
                if data["logo"]:
                    tenancy_services.set_logo(
                        tenant=tenant, actor=request.membership, upload=data["logo"]
                    )
                elif data["remove_logo"]:
                    tenancy_services.remove_logo(tenant=tenant, actor=request.membership)
            except DomainError as error:
                field = error.details.get("field")
                form.add_error(field if field in form.fields else None, str(error))
            else:
                messages.success(request, "Help center look saved.")
                return redirect("knowledge_base:theme")
    return render(request, "knowledge_base/theme.html", {"form": form}, status=status)
