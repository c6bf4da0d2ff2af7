"""The test databases: one migrated template, cloned for each test process.

Running every migration takes tens of seconds, and each xdist worker used to do it on every
run. Now the first process that needs it migrates a template database named after a digest
of everything that decides its contents (the migration files, the code run after migrate,
the Django version, the role names); every process then clones it with
`CREATE DATABASE ... TEMPLATE`, a file copy of about a second. An unchanged digest reuses the
template across runs; a changed migration gives a new name, so a stale template is never
cloned, and the next run drops the old one. `--create-db` rebuilds it once per run. Roles
are cluster-wide and privileges and RLS policies live in the catalog, so a clone has
everything the migrated database had.

Only one process builds: the others wait on a PostgreSQL advisory lock, which also works
when DATABASE_URL points at a shared server and needs no file that two checkouts agree on.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import os
import re
import warnings
import weakref
import zlib
from pathlib import Path
from typing import Any, cast

import django
import psycopg
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.db.migrations.loader import MigrationLoader
from psycopg import sql

from helpdesk.core import grants

# Marks a finished template (COMMENT ON DATABASE); a build cut short has none and is redone.
TEMPLATE_MARK = "helpdesk test template, built by run "
# A process waiting for another one's migrations gives up after this, with an error that
# says why (the per-test timeout counts only the test itself).
TEMPLATE_LOCK_TIMEOUT = "10min"
IDENTIFIER_LENGTH = 63  # PostgreSQL cuts longer names silently


def template_digest() -> str:
    """A digest of everything that decides what a freshly migrated test database holds."""
    digest = hashlib.sha256()
    digest.update(f"django {django.get_version()}\n".encode())
    digest.update(repr(sorted(settings.HELPDESK_DB_ROLES.items())).encode())
    # How the template is built, and the post_migrate hook that grants the runtime roles.
    for source in (Path(grants.__file__), Path(__file__)):
        digest.update(source.read_bytes())
    for app_config in sorted(apps.get_app_configs(), key=lambda config: config.label):
        module_name, _ = MigrationLoader.migrations_module(app_config.label)
        try:
            module = importlib.import_module(module_name) if module_name else None
        except ModuleNotFoundError:
            module = None
        if module is None or not hasattr(module, "__path__"):
            # `migrate --run-syncdb` creates an unmigrated app's tables from its models.
            if app_config.models_module is not None:
                digest.update(f"syncdb {app_config.label}\n".encode())
                digest.update(inspect.getsource(app_config.models_module).encode())
            continue
        for directory in module.__path__:
            for path in sorted(Path(directory).rglob("*.py")):
                digest.update(f"{app_config.label}/{path.relative_to(directory)}\n".encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def template_prefix() -> str:
    """`test_<database>`, plus `_<session>` under HELPDESK_TEST_SESSION (two test sessions on
    one server must not share, or drop, each other's templates)."""
    session = os.environ.get("HELPDESK_TEST_SESSION", "")
    return "_".join(filter(None, ["test", settings.HELPDESK_DATABASE_SERVER["NAME"], session]))


def template_name(prefix: str, digest: str) -> str:
    """`<prefix>_tpl_<12 hex digits>`, the prefix shortened to fit PostgreSQL's limit."""
    suffix = f"_tpl_{digest[:12]}"
    return prefix[: IDENTIFIER_LENGTH - len(suffix)] + suffix


def connect(
    *, dbname: str, user: str, password: str, application_name: str, autocommit: bool = False
) -> psycopg.Connection[Any]:
    """A connection of its own to the test server (not one of Django's)."""
    owner = settings.DATABASES["owner"]
    # DATABASES entries are dict[str, object] (helpdesk.settings._database); OPTIONS is a dict.
    options = cast(dict[str, Any], owner.get("OPTIONS", {}))
    kwargs: dict[str, Any] = {
        "host": owner["HOST"],
        "port": owner["PORT"],
        "dbname": dbname,
        "user": user,
        "autocommit": autocommit,
        "application_name": application_name,
    }
    if password:
        kwargs["password"] = password
    if options.get("sslmode"):
        kwargs["sslmode"] = options["sslmode"]
    return psycopg.connect(**kwargs)


def _connect_as_owner() -> psycopg.Connection[Any]:
    """The owner role on the server's `postgres` database: it creates, clones and drops the
    test databases, as Django's test runner did (the owner has CREATEDB), so this needs no
    superuser."""
    owner = settings.DATABASES["owner"]
    return connect(
        dbname="postgres",
        user=str(owner["USER"]),
        password=str(owner["PASSWORD"] or ""),
        application_name="helpdesk-test-template",
        autocommit=True,
    )


def _lock_key(name: str) -> int:
    return 7243100 + zlib.crc32(name.encode())


def use_database(name: str) -> None:
    """Point `default` and its test mirrors (`owner`, `ops`) at database `name`."""
    for alias in connections:
        mirror = connections[alias].settings_dict.get("TEST", {}).get("MIRROR")
        if alias == "default" or mirror == "default":
            connections[alias].close()
            connections[alias].settings_dict["NAME"] = name
            settings.DATABASES[alias]["NAME"] = name


def _template_state(server: psycopg.Connection[Any], name: str) -> str | None:
    """None when the database is missing, else its comment ('' when it has none)."""
    row = server.execute(
        "SELECT coalesce(shobj_description(oid, 'pg_database'), '')"
        " FROM pg_database WHERE datname = %s",
        [name],
    ).fetchone()
    return None if row is None else row[0]


def _drop(server: psycopg.Connection[Any], name: str, *, force: bool) -> None:
    identifier = sql.Identifier(name)
    if _template_state(server, name) is None:
        return
    server.execute(sql.SQL("ALTER DATABASE {} IS_TEMPLATE false").format(identifier))
    statement = "DROP DATABASE IF EXISTS {} WITH (FORCE)" if force else "DROP DATABASE {}"
    server.execute(sql.SQL(statement).format(identifier))


def _build_template(
    server: psycopg.Connection[Any], name: str, *, run_id: str, verbosity: int
) -> None:
    """Create `name` and migrate it as the owner, then freeze it as a template."""
    owner = settings.HELPDESK_DB_ROLES["owner"]
    _drop(server, name, force=True)  # a build cut short, or --create-db
    server.execute(
        sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(owner))
    )
    previous = connections["default"].settings_dict["NAME"]
    use_database(name)
    try:
        # What Django's create_test_db does after creating the database.
        call_command(
            "migrate",
            verbosity=max(verbosity - 1, 0),
            interactive=False,
            database="default",
            run_syncdb=True,
        )
        call_command("createcachetable", database="default")
    finally:
        connections.close_all()
        use_database(previous)
    # No one connects to a template: CREATE DATABASE refuses to copy one that has sessions,
    # and nothing may change it after it is marked finished.
    identifier = sql.Identifier(name)
    server.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(identifier))
    server.execute(sql.SQL("ALTER DATABASE {} IS_TEMPLATE true").format(identifier))
    server.execute(
        sql.SQL("COMMENT ON DATABASE {} IS {}").format(
            identifier, sql.Literal(TEMPLATE_MARK + run_id)
        )
    )


def _drop_stale_templates(server: psycopg.Connection[Any], current: str) -> None:
    """Drop the templates of other migration states: same prefix, another digest."""
    prefix = current[: -len("_tpl_") - 12]
    rows = server.execute(
        "SELECT datname FROM pg_database WHERE starts_with(datname, %s) AND datname <> %s",
        [prefix, current],
    ).fetchall()
    for (name,) in rows:
        if not re.fullmatch(r"_tpl_[0-9a-f]{12}", name[len(prefix) :]):
            continue
        try:
            _drop(server, name, force=False)
        except psycopg.Error as error:  # in use by another run: left for a later one
            warnings.warn(f"could not drop the stale test template {name}: {error}", stacklevel=2)


def create_test_database(
    *, database: str, template_prefix: str, run_id: str, rebuild: bool, verbosity: int
) -> str:
    """Create `database` as a clone of the template, building that first if needed.

    `run_id` is shared by all processes of one pytest run: with `rebuild` (--create-db) the
    template is rebuilt unless this run already did. Drops the templates of other migration
    states. Returns the template's name.
    """
    template = template_name(template_prefix, template_digest())
    owner = settings.HELPDESK_DB_ROLES["owner"]
    with _connect_as_owner() as server:
        server.execute(f"SET lock_timeout = '{TEMPLATE_LOCK_TIMEOUT}'")
        try:
            server.execute("SELECT pg_advisory_lock(%s)", [_lock_key(template)])
        except psycopg.errors.LockNotAvailable as error:
            raise RuntimeError(
                f"waited {TEMPLATE_LOCK_TIMEOUT} for another test process to migrate the "
                f"template database {template}"
            ) from error
        try:
            state = _template_state(server, template)
            finished = state is not None and state.startswith(TEMPLATE_MARK)
            if not finished or (rebuild and state != TEMPLATE_MARK + run_id):
                _build_template(server, template, run_id=run_id, verbosity=verbosity)
            _drop_stale_templates(server, template)
            # FORCE: a database left by a killed run may still have its sessions.
            server.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
            )
            server.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {} OWNER {}").format(
                    sql.Identifier(database), sql.Identifier(template), sql.Identifier(owner)
                )
            )
        finally:
            server.execute("SELECT pg_advisory_unlock(%s)", [_lock_key(template)])
    return template


def drop_test_database(name: str) -> None:
    """Drop this process's clone. Not forced: a session still open is a leak worth a warning."""
    connections.close_all()
    for wrapper in list(_opened):
        if wrapper.connection is not None:  # left open in another context or thread
            wrapper.inc_thread_sharing()
            wrapper.close()
    with _connect_as_owner() as server:
        try:
            server.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        except psycopg.errors.ObjectInUse as error:
            raise DatabaseStillOpen(f"{error}; {_sessions_on(server, name)}") from error


class DatabaseStillOpen(psycopg.errors.ObjectInUse):
    """The clone could not be dropped: the message names the sessions still on it."""


def _sessions_on(server: psycopg.Connection[Any], name: str) -> str:
    """Who is still connected to the database, for the warning that names the leak."""
    rows = server.execute(
        "SELECT pid, application_name, client_port, state,"
        " round(extract(epoch FROM now() - backend_start)::numeric, 1),"
        " left(query, 160) FROM pg_stat_activity"
        " WHERE datname = %s AND pid <> pg_backend_pid()",
        [name],
    ).fetchall()
    return "still open: " + "; ".join(
        f"pid {pid} ({application or 'no name'}, port {port}, {state}, connected {age} s ago,"
        f" last query {query!r})"
        for pid, application, port, state, age, query in rows
    )


# Every Django connection this process opened. Django keeps them per thread and per context
# (asgiref's Local), and the drop at the run's end may run in another context than the tests
# did (seen after browser tests, whose Playwright switches contexts): `close_all()` there
# did not reach the tests' own connection, and the drop failed on it ("1 other session").
_opened: weakref.WeakSet[BaseDatabaseWrapper] = weakref.WeakSet()


def _remember_connection(sender: object, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    _opened.add(connection)


connection_created.connect(_remember_connection)
