"""Shared fixtures. Test-only settings live here (CONTRIBUTING.md, Tests).

The test database is a clone of a template migrated once by the owner role
(tests/database_template.py); every test then runs as `helpdesk_app` (SET ROLE), so
row-level security applies exactly as in production.
"""

from __future__ import annotations

import os
import uuid
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias, cast
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID

import psycopg
import pytest
from django.conf import settings
from django.core.cache import caches
from django.core.management import call_command
from django.db import connection
from django.test import Client, override_settings
from django.test.signals import clear_cache_handlers
from pytest_django import DjangoDbBlocker, Settings
from pytest_django.fixtures import _get_databases_for_setup
from pytest_django.plugin import blocking_manager_key
from whitenoise.middleware import WhiteNoiseMiddleware  # type: ignore[import-untyped]

from departments.models import Department, Mailbox
from helpdesk.celery import app as celery_app
from helpdesk.ops import services as ops_services
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import Membership, Tenant
from tests import database_flush, database_template

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse

    # What the test client's get() and post() return: an HttpResponse with .json() and
    # .templates (the class exists in django-stubs only).
    ClientResponse: TypeAlias = _MonkeyPatchedWSGIResponse

PASSWORD = "correct-horse-battery"
TEST_PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# A test's commits need not wait for the disk: with synchronous_commit off, PostgreSQL
# reports a commit before its WAL reaches the disk (a crash loses the last commits, never
# consistency). Every libpq connection of the test processes and the workers and commands
# they start reads PGOPTIONS. The fault tests' private stack keeps full durability
# (tests/faults/stack.py drops the variable), since they check that nothing is lost.
os.environ["PGOPTIONS"] = f"{os.environ.get('PGOPTIONS', '')} -c synchronous_commit=off".strip()

database_flush.install()


def _own_cache_prefix() -> None:
    """This test process's own cache keys (workers and commands it starts get the same
    prefix through subprocess_environment). Set before any test, and the cache handler
    reset: a cache made earlier would keep the prefix it was made with."""
    settings.CACHES["default"]["KEY_PREFIX"] = _cache_prefix(0)
    clear_cache_handlers(setting="CACHES")


# Keys outlive a run (Redis keeps them until they expire), so each test process's prefix
# has a token of its own: the next run's test number 7 must not read this run's entries.
_PROCESS_TOKEN = uuid.uuid4().hex[:12]


def _cache_prefix(test_number: int) -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return f"test-{_PROCESS_TOKEN}-{test_number}-{worker}"


def _next_cache_prefix() -> None:
    """Every test its own cache keys. Acme outlives a test (below), and what a test cached
    about it (settings, rules, departments) must not outlive the test's rolled-back rows.
    Changing the prefix of the caches already made costs nothing; the old keys expire."""
    global _tests_started
    _tests_started += 1
    prefix = settings.CACHES["default"]["KEY_PREFIX"] = _cache_prefix(_tests_started)
    for cache in caches.all(initialized_only=True):
        cache.key_prefix = prefix


_tests_started = 0
_own_cache_prefix()


def _list_static_files_once() -> None:
    """WhiteNoise lists, stats and describes every static file whenever its middleware is
    made, and Django's test client makes the middleware anew for each client: 4 ms of CPU,
    about 2,300 times a run. The files do not change while the tests run, so each test
    process lists them once (per set of settings that shape the list) and every later
    middleware gets the same entries."""
    list_files = WhiteNoiseMiddleware.add_files_from_finders
    listed: dict[tuple[object, ...], dict[str, Any]] = {}

    def add_files_from_finders(self: WhiteNoiseMiddleware) -> None:
        key = (
            self.static_prefix,
            self.max_age,
            self.allow_all_origins,
            self.charset,
            self.index_file,
            tuple(settings.INSTALLED_APPS),
            *(
                (name, repr(getattr(settings, name)))
                for name in sorted(dir(settings))
                if name.startswith(("STATIC", "WHITENOISE_"))
            ),
        )
        if key not in listed:
            before = dict(self.files)
            list_files(self)
            listed[key] = {
                url: file for url, file in self.files.items() if before.get(url) is not file
            }
        self.files.update(listed[key])

    WhiteNoiseMiddleware.add_files_from_finders = add_files_from_finders


_list_static_files_once()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Spread the browser tests evenly over the run, keeping their order and everyone
    else's. A browser test mostly waits (on Chromium, the live server, its pages'
    requests): in one run the 78 of them took 485 s of wall time for 95 s of CPU. Where
    pytest-django's sort put them (among the transactional tests), they all fell into one
    xdist process's share and ran one after another to the end of the suite, the other
    processes stealing the last of them while the cores sat half idle. Spread out, each
    process's share and each stolen half holds its part of them, and their waits overlap
    with the other processes' work. Runs after pytest-django's sort (trylast); xdist's
    stealing mixes transactional and other tests in one process anyway."""
    browser = [item for item in items if item.get_closest_marker("browser") is not None]
    if not browser or len(browser) == len(items):
        return
    others = [item for item in items if item.get_closest_marker("browser") is None]
    place = {id(item): (index + 0.5) / len(browser) for index, item in enumerate(browser)}
    place.update({id(item): index / len(others) for index, item in enumerate(others)})
    items.sort(key=lambda item: place[id(item)])


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> None:
    call_command("setup_database", stdout=open(os.devnull, "w"))  # noqa: SIM115
    owner = settings.HELPDESK_DB_ROLES["owner"]
    settings.DATABASES["default"]["USER"] = owner
    settings.DATABASES["default"]["PASSWORD"] = settings.DATABASES["owner"]["PASSWORD"]
    # Two test sessions on one machine (say, two checkouts) need their own databases.
    session = os.environ.get("HELPDESK_TEST_SESSION", "")
    if session:
        # DATABASES entries are dict[str, object] (helpdesk.settings._database); TEST is a dict.
        test = cast(dict[str, str], settings.DATABASES["default"].setdefault("TEST", {}))
        test["NAME"] = f"{test.get('NAME') or 'test_helpdesk'}_{session}"
    # Each test process gets its own Redis database as broker, so a real worker started by
    # one test never takes another process's tasks.
    celery_app.conf["broker_url"] = broker_url(settings.REDIS_URL, broker_database())


@pytest.fixture(scope="session")
def django_db_setup(
    request: pytest.FixtureRequest,
    django_test_environment: None,
    django_db_blocker: DjangoDbBlocker,
    django_db_use_migrations: bool,
    django_db_keepdb: bool,
    django_db_createdb: bool,
    django_db_modify_db_settings: None,
) -> Iterator[None]:
    """This process's test database, cloned from the migrated template (replaces
    pytest-django's fixture, which migrated a new database in every xdist worker).

    `--reuse-db` keeps the clone after the run; the next run clones afresh anyway, since a
    clone is cheap and the template is what is reused. `--create-db` rebuilds the template.
    """
    if not django_db_use_migrations:
        raise pytest.UsageError("--nomigrations: the RLS policies come from the migrations")
    _, serialized_aliases = _get_databases_for_setup(request.session.items)
    # One id for all workers of a run, so that --create-db rebuilds the template only once.
    run_id = getattr(request.config, "workerinput", {}).get("testrunuid") or uuid.uuid4().hex
    name = connection.creation._get_test_db_name()  # type: ignore[attr-defined]
    with django_db_blocker.unblock():
        database_template.create_test_database(
            database=name,
            template_prefix=database_template.template_prefix(),
            run_id=run_id,
            rebuild=django_db_createdb,
            verbosity=request.config.option.verbose,
        )
        database_template.use_database(name)
        connection.ensure_connection()
        _committed_acme.database_ready = True
        if "default" in serialized_aliases:  # what Django's create_test_db does for these
            contents = connection.creation.serialize_db_to_string()
            connection._test_serialized_contents = contents  # type: ignore[attr-defined]
    yield
    _committed_acme.database_ready = False
    database_flush.close()
    if django_db_keepdb:
        return
    with django_db_blocker.unblock():
        try:
            database_template.drop_test_database(name)
        except psycopg.Error as error:  # a warning, as in pytest-django
            request.node.warn(pytest.PytestWarning(f"could not drop {name}: {error!r}"))


def broker_database() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw-1")
    index = int(worker.removeprefix("gw")) + 2 if worker.startswith("gw") else 1
    session = os.environ.get("HELPDESK_TEST_SESSION", "")
    offset = (zlib.crc32(session.encode()) % 3) * 4 if session else 0
    return min(15, index + offset)


def redis_url_for(redis_url: str, database: int) -> str:
    """The same Redis with another database number (redis-py URL)."""
    parts = urlsplit(redis_url)
    if parts.scheme == "unix":
        return f"unix://{parts.path}?db={database}"
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", "", ""))


def broker_url(redis_url: str, database: int) -> str:
    from helpdesk.settings import _broker_url

    return _broker_url(redis_url_for(redis_url, database))


def subprocess_environment() -> dict[str, str]:
    """Environment for a manage.py or celery subprocess on this test database and broker."""
    database = settings.DATABASES["default"]
    url = (
        f"postgresql://{settings.HELPDESK_DATABASE_SERVER['ADMIN_USER']}@/"
        f"{database['NAME']}?host={database['HOST']}"
    )
    if not str(database["HOST"]).startswith("/"):
        url = (
            f"postgresql://{settings.HELPDESK_DATABASE_SERVER['ADMIN_USER']}@"
            f"{database['HOST']}:{database['PORT']}/{database['NAME']}"
        )
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "helpdesk.settings",
        "DATABASE_URL": url,
        "REDIS_URL": redis_url_for(settings.REDIS_URL, broker_database()),
        "HELPDESK_CACHE_PREFIX": settings.CACHES["default"]["KEY_PREFIX"],
        # A Celery worker runs Django's system checks as it starts (about 0.4 s of CPU, the
        # URL configuration loaded with them); tests/test_production_settings.py runs them.
        "CELERY_SKIP_CHECKS": "1",
    }


@pytest.fixture(autouse=True)
def _test_settings(settings: Settings) -> None:
    settings.PASSWORD_HASHERS = TEST_PASSWORD_HASHERS
    settings.HELPDESK_PUBLIC_PORT = ""
    # Tests recreate tenants with the same slugs: a cached host would point at a tenant of
    # an earlier test (test_http covers the cache itself).
    settings.HELPDESK_TENANT_CACHE_SECONDS = 0
    # Rate-limit counters start at zero in every test: many tests log in, post forms and
    # send bad tokens from the same address (tests/core/test_ratelimit.py covers limits).
    settings.HELPDESK_RATELIMIT_KEY_PREFIX = f"test-{uuid.uuid4().hex}"
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True


@pytest.fixture(autouse=True)
def _run_as_app_role(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test that touches the database does so as helpdesk_app, under RLS."""
    if not _uses_database(request.node):
        yield
        return
    request.getfixturevalue("_django_db_helper")
    if "live_server" in request.fixturenames:
        request.getfixturevalue("transactional_db")
    with _as_app_role():
        yield


@contextmanager
def _as_app_role() -> Iterator[None]:
    with connection.cursor() as cursor:
        cursor.execute(f'SET ROLE "{settings.HELPDESK_DB_ROLES["app"]}"')
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")


@dataclass
class TenantSetup:
    """A provisioned tenant: its admin, department, default mailbox and host name."""

    tenant: Tenant
    admin: Membership
    department: Department
    mailbox: Mailbox

    @property
    def host(self) -> str:
        return f"{self.tenant.slug}.{settings.HELPDESK_BASE_DOMAIN}"

    @property
    def id(self) -> UUID:
        return self.tenant.id

    def api_client(self, membership: Membership | None = None) -> Client:
        """A test client on this tenant's host with a new API token of the member (admin)."""
        from helpdesk.accounts import services as account_services

        _, key = account_services.create_api_token(membership=membership or self.admin)
        client = Client(HTTP_HOST=self.host)
        client.defaults["HTTP_AUTHORIZATION"] = f"Token {key}"
        return client

    def client(self, membership: Membership | None = None) -> Client:
        """A test client on this tenant's host, logged in as the member when given."""
        client = Client(HTTP_HOST=self.host)
        if membership is not None:
            client.force_login(membership.user)
        return client


def make_tenant(slug: str, name: str) -> TenantSetup:
    provisioned = ops_services.create_tenant(
        slug=slug,
        name=name,
        admin_email=f"admin@{slug}.test",
        admin_password=PASSWORD,
        admin_name=f"{name} Admin",
    )
    return TenantSetup(
        tenant=provisioned.tenant,
        admin=provisioned.admin,
        department=provisioned.department,
        mailbox=provisioned.mailbox,
    )


# --- Acme, made once per test process ------------------------------------------------------
#
# Nearly every database test asks for Acme. Provisioning a tenant takes 42 statements and
# about 25 ms of CPU in the test process and the server, more than many tests themselves,
# so Acme is made once and committed, and each test's own transaction, rolled back at its
# end, leaves it as it was. A test gets new objects of it, read again.
#
# It is committed before the test's transaction begins (pytest_runtest_setup) for a test
# that uses this file's `acme` fixture, and for no other: a database test that does not
# (it makes its own tenants, or defines its own `acme`) gets an empty database as before,
# Acme removed first where present. A transactional test's flush empties the database,
# Acme with it: it is made again before the next test that asks for it. Globex, asked for
# by few tests, is made by each.


class _CommittedAcme:
    database_ready = False
    ids: tuple[UUID, UUID, UUID, UUID] | None = None

    def prepare(self, item: pytest.Item) -> None:
        if not self.database_ready or not _uses_database(item):
            return
        with item.config.stash[blocking_manager_key].unblock():
            if self.ids is not None and not Tenant.objects.filter(id=self.ids[0]).exists():
                self.ids = None  # a transactional test's flush took it
            wanted = _asks_for_acme(item)
            if wanted and self.ids is None:
                with _as_app_role(), override_settings(PASSWORD_HASHERS=TEST_PASSWORD_HASHERS):
                    made = make_tenant("acme", "Acme")
                self.ids = (made.tenant.id, made.admin.id, made.department.id, made.mailbox.id)
            elif not wanted and self.ids is not None:
                database_flush.empty_database(connection.alias)
                self.ids = None

    def get(self) -> TenantSetup | None:
        """Acme as a new set of objects, or None where it was not made for this test (the
        first test of a process, which starts before the database is there)."""
        if self.ids is None:
            return None
        tenant_id, admin_id, department_id, mailbox_id = self.ids
        with tenant_context(tenant_id):
            return TenantSetup(
                tenant=Tenant.objects.get(id=tenant_id),
                admin=Membership.objects.select_related("user").get(id=admin_id),
                department=Department.objects.get(id=department_id),
                mailbox=Mailbox.objects.get(id=mailbox_id),
            )


_committed_acme = _CommittedAcme()


def _uses_database(item: pytest.Item) -> bool:
    return item.get_closest_marker("django_db") is not None or not {
        "db",
        "transactional_db",
        "live_server",
    }.isdisjoint(getattr(item, "fixturenames", ()))


def _asks_for_acme(item: pytest.Item) -> bool:
    """Whether the test's `acme` is this file's (a module may define its own)."""
    info = getattr(item, "_fixtureinfo", None)
    definitions: Sequence[Any] = info.name2fixturedefs.get("acme", ()) if info else ()
    return bool(definitions) and definitions[-1].func.__module__ == __name__


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    _next_cache_prefix()
    _committed_acme.prepare(item)


@pytest.fixture
def acme(db: None) -> TenantSetup:
    """Tenant A, with no tenant context entered (for HTTP tests)."""
    return _committed_acme.get() or make_tenant("acme", "Acme")


@pytest.fixture
def globex(db: None) -> TenantSetup:
    """Tenant B, with no tenant context entered."""
    return make_tenant("globex", "Globex")


@pytest.fixture
def tenant(acme: TenantSetup) -> Iterator[TenantSetup]:
    """Tenant A with its context entered for the whole test (service and selector tests)."""
    with tenant_context(acme.tenant.id):
        yield acme


@pytest.fixture
def other_tenant(globex: TenantSetup) -> TenantSetup:
    """Tenant B, not entered: use `with tenant_context(other_tenant.id)` where needed."""
    return globex


@pytest.fixture
def broker_mode() -> Iterator[None]:
    """Tasks go through this test process's Redis database (emptied first), not eagerly."""
    celery_app.conf.task_always_eager = False
    with celery_app.connection_for_write() as connection:
        for queue in celery_app.conf.task_queues:
            queue.bind(connection.default_channel).purge()
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = True
