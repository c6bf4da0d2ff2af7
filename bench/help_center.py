"""Help center benchmark: the public pages' server time (issue 18: an article page under
30 ms).

On the bench database of `bench.run`: one tenant with 20 categories and 1,000 published
articles (of which 100 internal and 100 drafts, which the pages must leave out), each
about 3 kB of text, with their rendered HTML; the other tenants' articles do not matter to
these queries (every one leads with the tenant), so there are none. Then, through Django's
test Client and the full middleware stack (tenant by Host, the transaction, row-level
security as helpdesk_app, CSRF, sessions, CSP), with no network in between, measured in
process:

- an article page for a new visitor each time (no cookie: the view counter's Redis claim
  and the counter's UPDATE both run),
- an article page for a returning visitor (the claim is already there: no UPDATE),
- the home page (categories and their public articles),
- a search with a typo (full text plus trigram similarity over every public article),
- the request form's suggestions for a subject.

Each request type: 20 warm-up requests, then `--requests` (default 300) measured ones;
median, p95 and the number of SQL queries. The machine's load average is recorded before
each type.
"""

from __future__ import annotations

import os
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.run import Context

CATEGORIES = 20
ARTICLES = 1_000
INTERNAL = 100
DRAFTS = 100
REQUESTS = 300
WARMUP = 20
TARGET_MS = 30.0
SEED = 18
WORDS = (
    "account",
    "invoice",
    "password",
    "printer",
    "install",
    "driver",
    "network",
    "wireless",
    "cartridge",
    "toner",
    "paper",
    "jam",
    "scanner",
    "email",
    "billing",
    "refund",
    "plan",
    "upgrade",
    "download",
    "export",
    "import",
    "user",
    "admin",
    "permission",
    "setting",
    "language",
    "report",
    "error",
    "update",
    "restart",
    "firmware",
    "warranty",
    "shipping",
    "order",
    "delivery",
    "return",
    "cancel",
    "subscription",
    "payment",
    "card",
    "bank",
    "transfer",
    "tax",
    "receipt",
)


def _body(rng: random.Random) -> str:
    paragraphs = []
    for _ in range(12):
        sentence_count = rng.randint(3, 5)
        sentences = [
            " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 12))).capitalize() + "."
            for _ in range(sentence_count)
        ]
        paragraphs.append(" ".join(sentences))
    return "\n\n".join(paragraphs)


def _load(tenant_id: Any) -> list[str]:
    from django.utils import timezone
    from django.utils.html import escape

    from helpdesk.tenancy.context import tenant_context
    from knowledge_base.models import Article, Category

    rng = random.Random(SEED)
    slugs: list[str] = []
    with tenant_context(tenant_id):
        categories = Category.objects.bulk_create(
            [
                Category(tenant_id=tenant_id, name=f"Topic {n}", slug=f"topic-{n}", position=n)
                for n in range(CATEGORIES)
            ]
        )
        articles = []
        for n in range(ARTICLES):
            body = _body(rng)
            title = f"{rng.choice(WORDS).capitalize()} {rng.choice(WORDS)} guide {n}"
            status = "draft" if n < DRAFTS else "published"
            visibility = "internal" if DRAFTS <= n < DRAFTS + INTERNAL else "public"
            slug = f"article-{n}"
            if status == "published" and visibility == "public":
                slugs.append(slug)
            articles.append(
                Article(
                    tenant_id=tenant_id,
                    category=categories[n % CATEGORIES],
                    title=title,
                    slug=slug,
                    body=body,
                    body_html="".join(f"<p>{escape(p)}</p>" for p in body.split("\n\n")),
                    status=status,
                    visibility=visibility,
                    published_at=timezone.now() if status == "published" else None,
                )
            )
        Article.objects.bulk_create(articles, batch_size=500)
    return slugs


_random = random.Random(SEED)


def _new_visitor(client: Any) -> Any:
    """The client with no cookies: the server sees a visitor it does not know. One client
    for all of them, because a new test Client builds the middleware again (WhiteNoise
    then lists every static file), which a server does once per process."""
    from http.cookies import SimpleCookie

    client.cookies = SimpleCookie()
    # Without a cookie the visitor is known by their address: a new one each time, so
    # that every view is counted (the Redis claim and the counter's upsert run).
    client.defaults["REMOTE_ADDR"] = (
        f"10.{_random.randint(0, 255)}.{_random.randint(0, 255)}.{_random.randint(1, 254)}"
    )
    return client


def _analyze(context: Context) -> None:
    with context.admin_connection() as connection:
        connection.execute("ANALYZE")


class _Cpu:
    """CPU time of this process and of its PostgreSQL backend (read from /proc: the
    server runs on this machine), which depends much less on the machine's load than the
    wall clock does. The backend's is None when its /proc entry cannot be read."""

    def __init__(self) -> None:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            self.backend = int(cursor.fetchone()[0])
        self.python = 0.0
        self.postgres: float | None = 0.0
        self._started: tuple[float, float | None] = (0.0, None)

    def _backend_seconds(self) -> float | None:
        try:
            fields = Path(f"/proc/{self.backend}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def start(self) -> None:
        self._started = (time.process_time(), self._backend_seconds())

    def stop(self) -> None:
        python, backend = time.process_time(), self._backend_seconds()
        self.python += python - self._started[0]
        if self.postgres is not None and backend is not None and self._started[1] is not None:
            self.postgres += backend - self._started[1]
        else:
            self.postgres = None

    def per_request(self, count: int) -> dict[str, float | None]:
        return {
            "python": round(self.python * 1000 / count, 2),
            "postgres": None if self.postgres is None else round(self.postgres * 1000 / count, 2),
        }


def _measure(client_factory: Any, urls: list[str]) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    times: list[float] = []
    queries: list[int] = []
    statuses: set[int] = set()
    cpu = _Cpu()
    for number, url in enumerate(urls):
        client = client_factory()
        connection.queries_log.clear()  # bounded (9,000): a full log counts nothing
        with CaptureQueriesContext(connection) as captured:
            if number >= WARMUP:
                cpu.start()
            began = time.perf_counter()
            response = client.get(url)
            elapsed = time.perf_counter() - began
            if number >= WARMUP:
                cpu.stop()
        statuses.add(response.status_code)
        if number >= WARMUP:
            times.append(elapsed * 1000)
            queries.append(len(captured))
    times.sort()
    return {
        "cpu_ms": cpu.per_request(len(times)),
        "requests": len(times),
        "statuses": sorted(statuses),
        "ms": {
            "median": round(statistics.median(times), 2),
            "p95": round(times[int(len(times) * 0.95) - 1], 2),
            "max": round(times[-1], 2),
        },
        "queries": statistics.median(queries),
    }


def _measure_search(
    tenant_id: Any, count: int, rng: random.Random, typo_words: list[str]
) -> list[dict[str, Any]]:
    """`knowledge_base.public.search` alone (no page around it): the SQL and the ranking,
    in the tenant's context as a request has it, 50 results as the search page asks."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from helpdesk.tenancy.context import tenant_context
    from knowledge_base import public

    kinds: list[tuple[str, str, Callable[[], str]]] = [
        (
            "search_call_words",
            "search() alone, two words",
            lambda: f"{rng.choice(WORDS)} {rng.choice(WORDS)}",
        ),
        ("search_call_typo", "search() alone, a typo", lambda: rng.choice(typo_words)),
    ]
    results = []
    for key, label, query in kinds:
        load_before = os.getloadavg()[0]
        times: list[float] = []
        queries: list[int] = []
        found: list[int] = []
        cpu = _Cpu()
        for number in range(count + WARMUP):
            text = query()
            connection.queries_log.clear()
            with CaptureQueriesContext(connection) as captured, tenant_context(tenant_id):
                if number >= WARMUP:
                    cpu.start()
                began = time.perf_counter()
                articles = public.search(text, language="en", limit=50)
                elapsed = time.perf_counter() - began
                if number >= WARMUP:
                    cpu.stop()
            if number >= WARMUP:
                times.append(elapsed * 1000)
                queries.append(
                    sum(
                        1
                        for q in captured.captured_queries
                        if q["sql"].startswith("SELECT") and "app.tenant_id" not in q["sql"]
                    )
                )
                found.append(len(articles))
        times.sort()
        result: dict[str, Any] = {
            "key": key,
            "label": label,
            "requests": len(times),
            "statuses": [f"{min(found)}-{max(found)} found"],
            "ms": {
                "median": round(statistics.median(times), 2),
                "p95": round(times[int(len(times) * 0.95) - 1], 2),
                "max": round(times[-1], 2),
            },
            "queries": statistics.median(queries),
            "load_average_before": round(load_before, 2),
            "cpu_ms": cpu.per_request(len(times)),
        }
        results.append(result)
        print(
            f"  {key}: median {result['ms']['median']} ms, p95 {result['ms']['p95']} ms", flush=True
        )
    return results


def run(context: Context, options: dict[str, Any]) -> dict[str, Any]:
    from django.conf import settings
    from django.test import Client

    from helpdesk.tenancy.models import Tenant

    count = int(options.get("requests") or REQUESTS)
    context.prepare()
    tenant = Tenant.objects.get(slug=context.tenant_slug)
    slugs = _load(tenant.id)
    _analyze(context)
    host = f"{context.tenant_slug}.{settings.HELPDESK_BASE_DOMAIN}"
    rng = random.Random(SEED)
    total = count + WARMUP
    returning = Client(HTTP_HOST=host, raise_request_exception=False)
    fresh = Client(HTTP_HOST=host, raise_request_exception=False)
    for slug in slugs:  # every article seen once: its counter row exists
        returning.get(f"/help/{slug}/")
    typo_words = ["pasword", "invoise", "printr", "cartrige", "subscripton", "delivry"]
    request_types = [
        (
            "article_new_visitor",
            "Article page, new visitor (view counted)",
            lambda: _new_visitor(fresh),
            [f"/help/{rng.choice(slugs)}/" for _ in range(total)],
        ),
        (
            "article_returning",
            "Article page, returning visitor",
            lambda: returning,
            [f"/help/{rng.choice(slugs)}/" for _ in range(total)],
        ),
        (
            "home",
            "Home: categories and their articles",
            lambda: returning,
            ["/help/"] * total,
        ),
        (
            "search_words",
            "Search, two words",
            lambda: returning,
            [f"/help/search/?q={rng.choice(WORDS)}+{rng.choice(WORDS)}" for _ in range(total)],
        ),
        (
            "search_typo",
            "Search with a typo",
            lambda: returning,
            [f"/help/search/?q={rng.choice(typo_words)}" for _ in range(total)],
        ),
        (
            "suggest",
            "Request form suggestions",
            lambda: returning,
            [
                f"/help/suggest/?subject={rng.choice(WORDS)}+{rng.choice(typo_words)}"
                for _ in range(total)
            ],
        ),
    ]
    results = []
    for key, label, factory, urls in request_types:
        load_before = os.getloadavg()[0]
        result = _measure(factory, urls)
        result.update(key=key, label=label, load_average_before=round(load_before, 2))
        results.append(result)
        print(
            f"  {key}: median {result['ms']['median']} ms, p95 {result['ms']['p95']} ms,"
            f" {result['queries']:g} queries",
            flush=True,
        )
    results.extend(_measure_search(tenant.id, count, rng, typo_words))
    return {
        "parameters": {
            "categories": CATEGORIES,
            "articles": ARTICLES,
            "public_articles": len(slugs),
            "requests": count,
            "warmup": WARMUP,
            "target_ms": TARGET_MS,
        },
        "pages": results,
    }


def markdown(result: dict[str, Any]) -> str:
    """The README section for one result."""
    parameters = result["parameters"]
    lines = [
        "### Help center",
        "",
        f"{parameters['articles']:,} articles in {parameters['categories']} categories"
        f" ({parameters['public_articles']:,} public and published, about 3 kB each), one"
        f" tenant; Django's test Client through the full middleware stack, in process;"
        f" {parameters['requests']} measured requests per page after {parameters['warmup']}"
        f" warm-up ones. Target: an article page under {parameters['target_ms']:g} ms.",
        "",
        "| page | median ms | p95 ms | max ms | CPU ms: Django + PostgreSQL | queries"
        " | statuses | load before |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for page in result["pages"]:
        cpu = page.get("cpu_ms") or {}
        lines.append(
            f"| {page['label']} | **{page['ms']['median']}** | {page['ms']['p95']} |"
            f" {page['ms']['max']} | {cpu.get('python', '')} + {cpu.get('postgres', '')} |"
            f" {page['queries']:g} |"
            f" {', '.join(str(s) for s in page['statuses'])} | {page['load_average_before']} |"
        )
    lines += [
        "",
        "Wall-clock times follow the machine's load (the load average before each row); the"
        " CPU columns much less: the benchmark process's CPU time (Django, the templates, the"
        " test Client) and its PostgreSQL backend's, per request, as averages.",
    ]
    return "\n".join(lines)
