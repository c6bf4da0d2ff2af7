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
from typing import Any

from django.conf import settings
from django.contrib.postgres.search import (
    SearchQuery,
    SearchRank,
    SearchVector,
    TrigramWordSimilarity,
)
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import F, FloatField, Q, QuerySet, Value
from django.db.models.functions import Greatest
from django.utils.translation.trans_real import parse_accept_lang_header

from helpdesk.core.ids import new_id
from helpdesk.tenancy.context import require_tenant_id
from knowledge_base.errors import ArticleNotFound
from knowledge_base.models import (
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

# How alike a query must be to a title or body (pg_trgm word_similarity, 0..1) to count
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


def get_public_article(slug: str) -> Article:
    """A public article by its slug (one of its former slugs too: see `former_slug_target`).
    Raises ArticleNotFound for drafts, internal articles and other tenants' slugs."""
    article = public_articles().select_related("stats").filter(slug=slug).first()
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


def search(query: str, *, language: str, limit: int = 20) -> list[Article]:
    """Public articles matching `query`, best first.

    Ranked by PostgreSQL full-text search (title weighs more than the body) plus trigram
    word similarity, which also lets a misspelled word find its article: an article
    matches when the text search does or when the query is at least TYPO_SIMILARITY alike
    to a stretch of its title. Only when that finds nothing are the bodies compared too
    (a typo in a word that only a body has): comparing every body costs a scan of all of
    them, which most searches never need. Without pg_trgm (the embedded PostgreSQL has no
    contrib extensions) a search that finds nothing is tried again with each unknown word
    replaced by the closest word of the public articles (`correct_typos`).
    """
    query = " ".join(query.replace("\x00", "").split())[:MAX_QUERY_LENGTH]
    if not query:
        return []
    if not has_trigram():
        found = _search(query, language=language, limit=limit, bodies=False, trigram=False)
        if found:
            return found
        # Each unknown word corrected; then any of the words, best-ranked first (as the
        # similarity does with trigrams: "cant download invoise" finds the invoice article).
        corrected = correct_typos(query)
        if corrected != query:
            found = _search(corrected, language=language, limit=limit, bodies=False, trigram=False)
        words = _WORD.findall(corrected)
        if not found and len(words) > 1:
            found = _search(
                " or ".join(words), language=language, limit=limit, bodies=False, trigram=False
            )
        return found
    found = _search(query, language=language, limit=limit, bodies=False)
    return found or _search(query, language=language, limit=limit, bodies=True)


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
# Words shorter than this are left as typed: too short to correct with any confidence.
MIN_CORRECTED_WORD = 4
# How alike (difflib's ratio, 0..1) a word of the articles must be to replace a typed one.
CORRECTION_CUTOFF = 0.75
# The articles read for their words; a help center larger than this corrects against the
# most recently changed ones.
CORRECTION_ARTICLES = 2000


def correct_typos(query: str) -> str:
    """`query` with each word the public articles do not have replaced by their closest
    word, when one is close enough."""
    vocabulary: set[str] = set()
    for title, body in (
        public_articles().order_by("-updated_at").values_list("title", "body")[:CORRECTION_ARTICLES]
    ):
        vocabulary.update(word.casefold() for word in _WORD.findall(f"{title} {body}"))

    def correct(match: re.Match[str]) -> str:
        word = match.group(0)
        folded = word.casefold()
        if len(folded) < MIN_CORRECTED_WORD or folded in vocabulary:
            return word
        close = difflib.get_close_matches(folded, vocabulary, n=1, cutoff=CORRECTION_CUTOFF)
        return close[0] if close else word

    return _WORD.sub(correct, query)


def _search(
    query: str, *, language: str, limit: int, bodies: bool, trigram: bool = True
) -> list[Article]:
    config = search_config(language)
    document = SearchVector("title", weight="A", config=config) + SearchVector(
        "body", weight="B", config=config
    )
    text_query = SearchQuery(query, search_type="websearch", config=config)
    if not trigram:
        found = (
            public_articles()
            .defer("body", "body_html")
            .annotate(document=document)
            .filter(document=text_query)
            .annotate(rank=SearchRank(F("document"), text_query))
            .order_by("-rank", "title")
        )
        return list(found[:limit])
    similarity: Any = TrigramWordSimilarity(query, "title")
    if bodies:
        similarity = Greatest(
            similarity,
            TrigramWordSimilarity(query, "body") * Value(0.8),
            output_field=FloatField(),
        )
    found = (
        public_articles()
        .defer("body", "body_html")
        .annotate(document=document, similarity=similarity)
        .filter(Q(document=text_query) | Q(similarity__gte=TYPO_SIMILARITY))
        .annotate(rank=SearchRank(F("document"), text_query) + F("similarity"))
        .order_by("-rank", "title")
    )
    return list(found[:limit])


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


def get_vote(article: Article, visitor: str) -> bool | None:
    """The visitor's answer on this article: True, False, or None when not answered."""
    row = ArticleVote.objects.filter(article=article, visitor=visitor).values("helpful").first()
    return row["helpful"] if row else None


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


def suggest(subject: str, *, language: str, limit: int = 5) -> list[Article]:
    """Articles to suggest while someone types the subject of a request."""
    if len(subject.strip()) < 3:
        return []
    return search(subject, language=language, limit=limit)


def pick_translation(
    article: Article, *, accept_language: str, own_language: str
) -> ArticleTranslation | None:
    """The translation to show a visitor whose browser sends `accept_language`: the first
    of their languages (by preference) that has one, unless the article's own language
    (`own_language`, the tenant's) comes first. None: show the article itself."""
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
    if not candidates:
        return None
    translations = {
        t.language: t
        for t in ArticleTranslation.objects.filter(article=article, language__in=candidates)
    }
    return next((translations[c] for c in candidates if c in translations), None)
