"""The public help center on the tenant's host, without login: the home page (categories
and their articles), search results, an article with its "was this helpful?" question,
the subject suggestions of the request form, and the tenant's theme and logo.

Only published, public articles are ever shown (`knowledge_base.public`); another
tenant's article, a draft and an internal one are all the same 404.
"""

from __future__ import annotations

import functools
import mimetypes
import re
from collections.abc import Callable
from typing import Any

from django.http import FileResponse, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.html import strip_tags
from django.utils.text import Truncator
from django.views.decorators.http import require_GET, require_POST

from helpdesk.core.ratelimit import limit_public_form
from helpdesk.core.views import not_found_page
from helpdesk.tenancy.http import TenantHttpRequest
from knowledge_base import public
from knowledge_base.errors import ArticleNotFound
from knowledge_base.visitors import remember_visitor, visitor_key

DEFAULT_BRAND_COLOUR = "#2457c5"
_HEX = re.compile(r"^#[0-9a-f]{6}$")


def help_center_page(
    view: Callable[..., HttpResponseBase],
) -> Callable[..., HttpResponseBase]:
    """A public help center view: only on a tenant's host (else 404), in the tenant's
    language, and the visitor gets their cookie."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        tenant = getattr(request, "tenant", None)
        if tenant is None:
            return not_found_page(request, "That help center")
        with translation.override(tenant.language or "en"):
            response = view(request, *args, **kwargs)
        response.headers.setdefault("Content-Language", tenant.language or "en")
        return remember_visitor(request, response)

    return wrapped


def _language(request: TenantHttpRequest) -> str:
    return request.tenant.language or "en"


def _visitor_language(request: TenantHttpRequest) -> str | None:
    """The translation language the visitor's browser prefers to the tenant's, if any."""
    return public.visitor_language(
        request.headers.get("Accept-Language", ""), own_language=_language(request)
    )


def _by_browser_language(response: HttpResponse) -> HttpResponse:
    response["Vary"] = "Accept-Language"
    return response


@require_GET
@help_center_page
def home(request: TenantHttpRequest) -> HttpResponse:
    """Categories and their public articles, with the search box (`?q=` searches, as the
    home page's own search did before /help/search/)."""
    if request.GET.get("q", "").strip():
        return _search_page(request)
    grouped = public.list_public_categories()
    public.translate_titles(
        [article for _, articles in grouped for article in articles],
        language=_visitor_language(request),
    )
    return _by_browser_language(
        render(request, "knowledge_base/public/home.html", {"grouped": grouped})
    )


@require_GET
@help_center_page
def search(request: TenantHttpRequest) -> HttpResponse:
    """Search results, best first; a misspelled word still finds its article."""
    return _search_page(request)


def _search_page(request: TenantHttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[: public.MAX_QUERY_LENGTH]
    translation_language = _visitor_language(request)
    found = (
        public.search(
            query,
            language=_language(request),
            translation_language=translation_language,
            limit=50,
        )
        if query
        else []
    )
    public.translate_titles(found, language=translation_language)
    return _by_browser_language(
        render(request, "knowledge_base/public/search.html", {"query": query, "found": found})
    )


@require_GET
@help_center_page
def article(request: TenantHttpRequest, slug: str) -> HttpResponse:
    """One public article. A former slug redirects to the current one; opened from a
    request form suggestion (`?from=request`), it counts as a possible deflection."""
    visitor = visitor_key(request)
    try:
        item = public.get_public_article(slug, visitor=visitor)
    except ArticleNotFound:
        target = public.former_slug_target(slug)
        if target:
            return redirect("help:article", slug=target, permanent=True)
        return not_found_page(request, "That article")
    public.record_view(article=item, visitor=visitor)
    if request.GET.get("from") == "request":
        public.record_suggestion_opened(article=item, visitor=visitor)
    shown_translation = public.pick_translation(
        item,
        accept_language=request.headers.get("Accept-Language", ""),
        own_language=_language(request),
    )
    shown = shown_translation or item
    description = Truncator(" ".join(strip_tags(shown.body_html or shown.body).split())).chars(160)
    response = render(
        request,
        "knowledge_base/public/article.html",
        {
            "article": item,
            "shown": shown,
            "shown_language": shown_translation.language if shown_translation else "",
            "description": description,
            "vote": getattr(item, "visitor_vote", None),
            "counts": public.get_counts(item),
            "canonical": request.build_absolute_uri(request.path),
        },
    )
    response["Vary"] = "Accept-Language"
    return response


@require_POST
@help_center_page
@limit_public_form
def vote(request: TenantHttpRequest, slug: str) -> HttpResponse:
    """Answer "was this helpful?" (`helpful` = yes or no). One answer per visitor and
    article; answering again replaces it. htmx gets the panel, a plain form a redirect."""
    try:
        item = public.get_public_article(slug)
    except ArticleNotFound:
        return not_found_page(request, "That article")
    answer = request.POST.get("helpful", "")
    if answer not in ("yes", "no"):
        return HttpResponse("Answer yes or no.", status=400, content_type="text/plain")
    visitor = visitor_key(request)
    counts = public.vote(article=item, visitor=visitor, helpful=answer == "yes")
    if not request.htmx:
        return redirect("help:article", slug=item.slug)
    response = render(
        request,
        "knowledge_base/public/article.html#feedback",
        {"article": item, "vote": answer == "yes", "counts": counts},
    )
    response["Vary"] = "HX-Request"
    return response


@require_GET
@help_center_page
def suggest(request: TenantHttpRequest) -> HttpResponse:
    """Articles matching what the visitor typed as the subject of a request (htmx)."""
    subject = request.GET.get("subject", "")[: public.MAX_QUERY_LENGTH]
    translation_language = _visitor_language(request)
    found = public.suggest(
        subject, language=_language(request), translation_language=translation_language
    )
    public.translate_titles(found, language=translation_language)
    return _by_browser_language(
        render(request, "knowledge_base/public/suggestions.html", {"found": found})
    )


@require_GET
@help_center_page
def theme(request: TenantHttpRequest) -> HttpResponse:
    """The tenant's colours as CSS (inline styles are not allowed by the CSP)."""
    colour = request.tenant.brand_colour
    if not _HEX.match(colour):
        colour = DEFAULT_BRAND_COLOUR
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    # Dark text on a light brand colour, white on a dark one (WCAG relative luminance).
    luminance = 0.2126 * red + 0.7152 * green + 0.0722 * blue
    text = "#1c2430" if luminance > 150 else "#ffffff"
    css = f":root {{ --brand: {colour}; --brand-text: {text}; }}\n"
    response = HttpResponse(css, content_type="text/css; charset=utf-8")
    response["Cache-Control"] = "public, max-age=300"
    return response


@require_GET
@help_center_page
def logo(request: TenantHttpRequest) -> HttpResponseBase:
    """The tenant's logo (PNG, JPEG, GIF or WebP), or 404 without one."""
    field = request.tenant.logo
    content_type, _ = mimetypes.guess_type(field.name or "")
    if not field or content_type not in ("image/png", "image/jpeg", "image/gif", "image/webp"):
        return not_found_page(request, "That logo")
    try:
        handle = field.open("rb")
    except OSError:
        return not_found_page(request, "That logo")
    response = FileResponse(handle, content_type=content_type)
    response["Cache-Control"] = "public, max-age=300"
    response["X-Content-Type-Options"] = "nosniff"
    return response
