"""The public help center's reads and writes: what a visitor may see (published, public
articles only), the search, view counts, "was this helpful?" votes and deflections.

Nothing here ever returns an internal or draft article: every query starts from
`public_articles()`. Visitors are identified by `visitor`, a hash the views derive from the
help center's cookie (or, without one, from the client's address); it is never the cookie
itself.
"""

from __future__ import annotations

import dataclasses
import datetime
import difflib
import re
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import F, OuterRef, QuerySet, Subquery
from django.utils.translation.trans_real import parse_accept_lang_header

from helpdesk.core.ids import new_id
from helpdesk.tenancy.context import require_tenant_id
from knowledge_base.errors import ArticleNotFound
from knowledge_base.models import (
    PUBLIC_SEARCH_VIEW,
    Article,
    ArticleSlug,
    ArticleStats,
    ArticleStatus,
    ArticleTranslation,
    ArticleVisibility,
    ArticleVote,
    Category,
    Deflection,
)
from knowledge_base.models import PUBLIC_TRANSLATION_SEARCH_VIEW as TRANSLATION_VIEW

# How alike a query must be to a title (pg_trgm word_similarity, 0..1) to count
# as a match when no word matches exactly: "pasword" finds "password" (0.67), while two
# unrelated words stay far below.
TYPO_SIMILARITY = 0.45
# A view is counted once per visitor and article in this window.
VIEW_WINDOW_SECONDS = 24 * 3600
MAX_QUERY_LENGTH = 200

_SEARCH_CONFIGS = {"de": "german", "en": "english", "fr": "french", "es": "spanish"}


def search_config(language: str) -> str:
    """The PostgreSQL text search configuration for a language code ("de-AT" → german)."""
    return _SEARCH_CONFIGS.get(language.split("-")[0].lower(), "simple")


def public_articles() -> QuerySet[Article]:
    """Articles the help center may show: published and public."""
    return Article.objects.filter(
        status=ArticleStatus.PUBLISHED, visibility=ArticleVisibility.PUBLIC
    ).select_related("category")


def list_public_categories() -> list[tuple[Category, list[Article]]]:
    """Categories that have public articles, in their order, each with its articles."""
    grouped: dict[Any, list[Article]] = {}
    categories: dict[Any, Category] = {}
    # Only what the page shows: the bodies of every article would be most of the bytes.
    articles = (
        public_articles()
        .only(
            "id",
            "title",
            "slug",
            "category_id",
            "category__name",
            "category__slug",
            "category__description",
            "category__position",
        )
        .order_by("category__position", "category__name", "position", "title")
    )
    for article in articles:
        categories.setdefault(article.category_id, article.category)
        grouped.setdefault(article.category_id, []).append(article)
    return [(categories[key], items) for key, items in grouped.items()]


def get_public_article(slug: str, *, visitor: str | None = None) -> Article:
    """A public article by its slug, with its counters (`get_counts`) and, given a
    visitor, their answer to "was this helpful?" as `visitor_vote` (True, False or None),
    all in one query. Raises ArticleNotFound for drafts, internal articles, other
    tenants' slugs and former slugs (see `former_slug_target`)."""
    articles = public_articles().select_related("stats").filter(slug=slug)
    if visitor is not None:
        articles = articles.annotate(
            visitor_vote=Subquery(
                ArticleVote.objects.filter(article=OuterRef("pk"), visitor=visitor).values(
                    "helpful"
                )[:1]
            )
        )
    article = articles.first()
    if article is None:
        raise ArticleNotFound(slug=slug)
    return article


def former_slug_target(slug: str) -> str | None:
    """The current slug of the public article that had `slug` before its title changed."""
    row = (
        ArticleSlug.objects.filter(
            slug=slug,
            article__status=ArticleStatus.PUBLISHED,
            article__visibility=ArticleVisibility.PUBLIC,
        )
        .values("article__slug")
        .first()
    )
    return row["article__slug"] if row else None


def search(
    query: str, *, language: str, translation_language: str | None = None, limit: int = 20
) -> list[Article]:
    """Public articles matching `query`, best first.

    With `translation_language` (the visitor's, `visitor_language`), the articles whose
    translation into it matches the words come first, searched in that language's
    configuration through PUBLIC_TRANSLATION_SEARCH_VIEW (migration 0008); then the
    articles themselves as below.

    Ranked by PostgreSQL full-text search over the stored documents (the title weighs more
    than the body), plus, with pg_trgm, the trigram word similarity of the query to the
    title: an article matches when the text search does or when the query is at least
    TYPO_SIMILARITY alike to a stretch of its title. When that finds nothing, each word
    the help center does not have is replaced by the closest one it has (`correct_typos`:
    "invoise" finds the invoice article, whether the typo is in a title or a body), and
    then, for several words, any of them will do, best-ranked first. The embedded
    PostgreSQL has no pg_trgm: there only the title similarity is missing.

    Reads PUBLIC_SEARCH_VIEW, so the full-text and trigram indexes serve every step (see
    migration 0007); the articles are then loaded through the scoped manager.
    """
    query = " ".join(query.replace("\x00", "").split())[:MAX_QUERY_LENGTH]
    if not query:
        return []
    config = search_config(language)
    translated: list[Any] = []
    if translation_language:
        translated = _ranked_translations(
            query,
            language=translation_language,
            config=search_config(translation_language),
            limit=limit,
        )
    ranked = _ranked_by_text(query, config=config, limit=limit, trigram=has_trigram())
    if not ranked and not translated:
        terms = _corrected_terms(query, config=config)
        if terms:
            ranked = _ranked_by_tsquery(_tsquery(terms, "&"), limit=limit)
        if not ranked and len(terms) > 1:
            ranked = _ranked_by_tsquery(_tsquery(terms, "|"), limit=limit)
    ranked = list(dict.fromkeys([*translated, *ranked]))[:limit]
    if not ranked:
        return []
    loaded = public_articles().defer("body", "body_html").in_bulk(ranked)
    return [loaded[article_id] for article_id in ranked if article_id in loaded]


def has_trigram() -> bool:
    """Whether pg_trgm is installed (asked once per process and database)."""
    alias = connection.settings_dict["NAME"]
    if alias not in _TRIGRAM:
        with connection.cursor() as cursor:
            cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm')")
            _TRIGRAM[alias] = bool(cursor.fetchone()[0])
    return _TRIGRAM[alias]


_TRIGRAM: dict[str, bool] = {}
_WORD = re.compile(r"\w+")
# Words (their stems) shorter than this are left as typed: too short to correct with
# any confidence.
MIN_CORRECTED_WORD = 4
# How alike (difflib's ratio, 0..1) a word of the articles must be to replace a typed one.
CORRECTION_CUTOFF = 0.75
# The help center's words are read again when its public articles change; otherwise
# kept this long.
VOCABULARY_SECONDS = 3600


# The statements of a search (constants: the view's name is not input).
_BY_TEXT_OR_TITLE = (
    "SELECT id, ts_rank(document, q) + word_similarity(%(text)s, title) AS rank"  # noqa: S608
    f" FROM {PUBLIC_SEARCH_VIEW}, websearch_to_tsquery(%(config)s::regconfig, %(text)s) AS q"
    " WHERE document @@ q OR %(text)s <%% title"
    " ORDER BY rank DESC, title LIMIT %(limit)s"
)
_BY_TEXT = (
    "SELECT id, ts_rank(document, q) AS rank"  # noqa: S608
    f" FROM {PUBLIC_SEARCH_VIEW}, websearch_to_tsquery(%(config)s::regconfig, %(text)s) AS q"
    " WHERE document @@ q ORDER BY rank DESC, title LIMIT %(limit)s"
)
_BY_TSQUERY = (
    "SELECT id, ts_rank(document, q) AS rank"  # noqa: S608
    f" FROM {PUBLIC_SEARCH_VIEW}, CAST(%s AS tsquery) AS q"
    " WHERE document @@ q ORDER BY rank DESC, title LIMIT %s"
)
_STAMP = f"SELECT count(*), max(updated_at) FROM {PUBLIC_SEARCH_VIEW}"  # noqa: S608
_VOCABULARY = f"SELECT word FROM ts_stat('SELECT document FROM {PUBLIC_SEARCH_VIEW}')"  # noqa: S608


def _ranked_by_text(query: str, *, config: str, limit: int, trigram: bool) -> list[Any]:
    """Ids of the public articles matching the words (websearch syntax) or, with pg_trgm,
    whose title is TYPO_SIMILARITY alike to the query, best first."""
    require_tenant_id()
    with connection.cursor() as cursor:
        if trigram:
            # The `<%` operator (not the function) is what the trigram index serves; its
            # threshold is a setting, for this transaction only.
            cursor.execute(
                "SELECT set_config('pg_trgm.word_similarity_threshold', %s, true)",
                [str(TYPO_SIMILARITY)],
            )
            cursor.execute(_BY_TEXT_OR_TITLE, {"text": query, "config": config, "limit": limit})
        else:
            cursor.execute(_BY_TEXT, {"text": query, "config": config, "limit": limit})
        return [row[0] for row in cursor.fetchall()]


_TRANSLATIONS_BY_TEXT = (
    "SELECT id, ts_rank(document, q) AS rank"  # noqa: S608
    f" FROM {TRANSLATION_VIEW}, websearch_to_tsquery(%(config)s::regconfig, %(text)s) AS q"
    " WHERE language = %(language)s AND document @@ q"
    " ORDER BY rank DESC, title LIMIT %(limit)s"
)


def _ranked_translations(query: str, *, language: str, config: str, limit: int) -> list[Any]:
    """Ids of the public articles whose translation into `language` matches the words
    (websearch syntax, in that language's configuration), best first."""
    require_tenant_id()
    with connection.cursor() as cursor:
        cursor.execute(
            _TRANSLATIONS_BY_TEXT,
            {"text": query, "config": config, "language": language, "limit": limit},
        )
        return [row[0] for row in cursor.fetchall()]


def _ranked_by_tsquery(tsquery: str, *, limit: int) -> list[Any]:
    """Ids of the public articles whose document matches `tsquery` (lexemes), best first."""
    require_tenant_id()
    with connection.cursor() as cursor:
        cursor.execute(_BY_TSQUERY, [tsquery, limit])
        return [row[0] for row in cursor.fetchall()]


def _tsquery(terms: list[list[str]], operator: str) -> str:
    """A tsquery of lexemes: each word's lexemes all, the words joined by `operator`."""

    def quoted(lexeme: str) -> str:
        return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"

    return f" {operator} ".join(
        "(" + " & ".join(quoted(lexeme) for lexeme in lexemes) + ")" for lexemes in terms
    )


def _stems(words: list[str], config: str) -> list[list[str]]:
    """Each word's lexemes as the documents hold them (none for a stop word)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tsvector_to_array(to_tsvector(%s::regconfig, word))"
            " FROM unnest(%s::text[]) WITH ORDINALITY AS typed(word, position)"
            " ORDER BY position",
            [config, words],
        )
        return [list(row[0]) for row in cursor.fetchall()]


def vocabulary() -> frozenset[str]:
    """Every lexeme of the current tenant's public articles, from the stored documents
    (ts_stat); cached until one of those articles changes, is added or is withdrawn."""
    tenant_id = require_tenant_id()
    with connection.cursor() as cursor:
        cursor.execute(_STAMP)
        count, latest = cursor.fetchone()
        stamp = f"{count}:{latest.timestamp() if latest else 0}"
        key = f"kb-vocabulary:{tenant_id}:{stamp}"
        words = cache.get(key)
        if words is None:
            cursor.execute(_VOCABULARY)
            words = frozenset(row[0] for row in cursor.fetchall())
            cache.set(key, words, timeout=VOCABULARY_SECONDS)
    return frozenset(words)


def _corrected_terms(query: str, *, config: str) -> list[list[str]]:
    """The query's words as lexemes, each one the help center does not have replaced by
    its closest lexeme when one is close enough (CORRECTION_CUTOFF)."""
    words = _WORD.findall(query)
    if not words:
        return []
    known = vocabulary()
    terms: list[list[str]] = []
    for lexemes in _stems(words, config):
        corrected = []
        for lexeme in lexemes:
            if lexeme not in known and len(lexeme) >= MIN_CORRECTED_WORD:
                close = difflib.get_close_matches(lexeme, known, n=1, cutoff=CORRECTION_CUTOFF)
                lexeme = close[0] if close else lexeme
            corrected.append(lexeme)
        if corrected:
            terms.append(corrected)
    return terms


def correct_typos(query: str, *, language: str = "en") -> str:
    """`query` with each word the public articles do not have replaced by their closest
    word (as the search index holds it: its stem), when one is close enough."""
    config = search_config(language)
    known = vocabulary()

    def correct(match: re.Match[str]) -> str:
        word = match.group(0)
        lexemes = _stems([word], config)[0]
        if len(lexemes) != 1 or lexemes[0] in known or len(lexemes[0]) < MIN_CORRECTED_WORD:
            return word
        close = difflib.get_close_matches(lexemes[0], known, n=1, cutoff=CORRECTION_CUTOFF)
        return close[0] if close else word

    return _WORD.sub(correct, query)


@dataclasses.dataclass(frozen=True)
class Counts:
    views: int = 0
    helpful: int = 0
    not_helpful: int = 0


def get_counts(article: Article) -> Counts:
    """The article's view count and votes (no query when `get_public_article` joined
    them)."""
    try:
        stats = article.stats
    except ArticleStats.DoesNotExist:
        return Counts()
    return Counts(views=stats.views, helpful=stats.helpful, not_helpful=stats.not_helpful)


def _fresh_counts(article: Article) -> Counts:
    row = (
        ArticleStats.objects.filter(article=article)
        .values("views", "helpful", "not_helpful")
        .first()
    )
    return Counts(**row) if row else Counts()


def _ensure_stats(article: Article) -> None:
    ArticleStats.objects.bulk_create(
        [ArticleStats(article=article, tenant_id=article.tenant_id)],
        update_conflicts=False,
        ignore_conflicts=True,
    )


def record_view(*, article: Article, visitor: str) -> bool:
    """Count a view, once per visitor and article in VIEW_WINDOW_SECONDS (the claim is a
    Redis key added only if absent, so reloads and parallel requests count once). Returns
    whether it was counted."""
    # Under the rate limits' prefix: tests start every test with fresh counters.
    prefix = settings.HELPDESK_RATELIMIT_KEY_PREFIX
    key = f"{prefix}:kb-view:{require_tenant_id()}:{article.id}:{visitor}"
    if not cache.add(key, 1, timeout=VIEW_WINDOW_SECONDS):
        return False
    # One statement: the counter row is created by the first view.
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO knowledge_base_articlestats"
            " (id, tenant_id, article_id, views, helpful, not_helpful, created_at, updated_at)"
            " VALUES (%s, %s, %s, 1, 0, 0, now(), now())"
            " ON CONFLICT (article_id)"
            " DO UPDATE SET views = knowledge_base_articlestats.views + 1, updated_at = now()",
            [new_id(), article.tenant_id, article.id],
        )
    return True


@transaction.atomic
def vote(*, article: Article, visitor: str, helpful: bool) -> Counts:
    """Record the visitor's answer to "was this helpful?". Idempotent: the same answer again
    changes nothing, another answer replaces the first. Returns the article's counts."""
    _ensure_stats(article)
    # Lock the counters first: two answers of one visitor at once then run one after the
    # other and each sees the vote the other left.
    ArticleStats.objects.select_for_update().filter(article=article).first()
    previous = (
        ArticleVote.objects.filter(article=article, visitor=visitor).values("helpful").first()
    )
    if previous is not None and previous["helpful"] == helpful:
        return _fresh_counts(article)
    if previous is None:
        ArticleVote.objects.create(article=article, visitor=visitor, helpful=helpful)
        change = {"helpful": F("helpful") + 1} if helpful else {"not_helpful": F("not_helpful") + 1}
    else:
        ArticleVote.objects.filter(article=article, visitor=visitor).update(helpful=helpful)
        change = (
            {"helpful": F("helpful") + 1, "not_helpful": F("not_helpful") - 1}
            if helpful
            else {"helpful": F("helpful") - 1, "not_helpful": F("not_helpful") + 1}
        )
    ArticleStats.objects.filter(article=article).update(**change)
    return _fresh_counts(article)


def record_suggestion_opened(*, article: Article, visitor: str) -> None:
    """The visitor opened an article the request form suggested: a deflection, unless they
    send the form afterwards (`record_request_sent`). Counted once per visitor and article."""
    Deflection.objects.bulk_create(
        [Deflection(article=article, visitor=visitor, tenant_id=article.tenant_id)],
        ignore_conflicts=True,
    )


def record_request_sent(*, visitor: str) -> int:
    """The visitor sent the request form after all: their suggestions opened before were not
    deflections. Returns how many were taken back."""
    return Deflection.objects.filter(visitor=visitor, asked_anyway=False).update(asked_anyway=True)


def count_deflections(*, start: datetime.datetime, end: datetime.datetime) -> int:
    """Visits that ended on a suggested article, in [start, end) (for reports)."""
    return Deflection.objects.filter(
        asked_anyway=False, created_at__gte=start, created_at__lt=end
    ).count()


def suggest(
    subject: str, *, language: str, translation_language: str | None = None, limit: int = 5
) -> list[Article]:
    """Articles to suggest while someone types the subject of a request."""
    if len(subject.strip()) < 3:
        return []
    return search(
        subject, language=language, translation_language=translation_language, limit=limit
    )


def preferred_languages(accept_language: str, *, own_language: str) -> list[str]:
    """The languages (base codes) a browser sending `accept_language` prefers to the
    article's own (`own_language`, the tenant's), best first; empty when the own language
    comes first or none is named."""
    wanted: list[str] = []
    for code, _ in parse_accept_lang_header(accept_language[:500]):
        base = code.split("-")[0].lower()
        if base and base != "*" and base not in wanted:
            wanted.append(base)
    own = own_language.split("-")[0].lower()
    candidates: list[str] = []
    for code in wanted:
        if code == own:
            break
        candidates.append(code)
    return candidates


def visitor_language(accept_language: str, *, own_language: str) -> str | None:
    """The one translation language the help center lists and searches in for this
    browser: its most preferred language the help desk offers (settings.LANGUAGES), when
    preferred to the tenant's own. None: the articles' own language."""
    offered = {code for code, _ in settings.LANGUAGES}
    preferred = preferred_languages(accept_language, own_language=own_language)
    return next((code for code in preferred if code in offered), None)


def pick_translation(
    article: Article, *, accept_language: str, own_language: str
) -> ArticleTranslation | None:
    """The translation to show a visitor whose browser sends `accept_language`: the first
    of their languages (by preference) that has one, unless the article's own language
    (`own_language`, the tenant's) comes first. None: show the article itself."""
    candidates = preferred_languages(accept_language, own_language=own_language)
    if not candidates:
        return None
    translations = {
        t.language: t
        for t in ArticleTranslation.objects.filter(article=article, language__in=candidates)
    }
    return next((translations[c] for c in candidates if c in translations), None)


def translate_titles(articles: Iterable[Article], *, language: str | None) -> None:
    """Give each article `shown_title`: its title in `language` when it has a translation
    into it, else its own (one query, none without a language)."""
    articles = list(articles)
    titles: dict[Any, str] = {}
    if language and articles:
        titles = dict(
            ArticleTranslation.objects.filter(
                article_id__in=[a.id for a in articles], language=language
            ).values_list("article_id", "title")
        )
    for article in articles:
        article.shown_title = titles.get(article.id, article.title)  # type: ignore[attr-defined]
