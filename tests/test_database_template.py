"""The test databases are clones of one migrated template (tests/database_template.py)."""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.conf import settings as django_settings
from django.db import connection
from psycopg import sql

from helpdesk.core.management.commands.setup_database import _connect
from tests.database_template import (
    TEMPLATE_MARK,
    create_test_database,
    template_digest,
    template_name,
    template_prefix,
)


def test_a_changed_migration_file_names_another_template(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    package = tmp_path / "probe_migrations"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "0001_initial.py").write_text("operations = []\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "probe_migrations", raising=False)
    original = template_digest()
    settings.MIGRATION_MODULES = {"tickets": "probe_migrations"}
    first = template_digest()
    assert template_digest() == first  # unchanged files: the same template, reused
    (package / "0001_initial.py").write_text("operations = []  # edited\n")
    edited = template_digest()
    (package / "0002_more.py").write_text("operations = []\n")
    added = template_digest()
    assert len({original, first, edited, added}) == 4
    names = {template_name("test_helpdesk", digest) for digest in (first, edited, added)}
    assert len(names) == 3


def test_template_names_fit_postgres_identifiers() -> None:
    name = template_name("test_" + "x" * 80, "ab" * 32)
    assert len(name) == 63
    assert name.endswith("_tpl_" + "ab" * 6)


def _database(admin: psycopg.Connection[Any], name: str) -> tuple[Any, ...] | None:
    row: tuple[Any, ...] | None = admin.execute(
        "SELECT datistemplate, datallowconn, shobj_description(oid, 'pg_database')"
        " FROM pg_database WHERE datname = %s",
        [name],
    ).fetchone()
    return row


def test_the_test_database_is_cloned_from_a_frozen_finished_template(django_db_setup: None) -> None:
    template = template_name(template_prefix(), template_digest())
    with _connect("postgres") as admin:
        row = _database(admin, template)
        assert row is not None
        is_template, allows_connections, comment = row
        assert is_template
        assert not allows_connections  # nothing changes it after it is finished
        assert comment.startswith(TEMPLATE_MARK)
        assert _database(admin, connection.settings_dict["NAME"]) == (False, True, None)


def _drop(admin: psycopg.Connection[Any], name: str) -> None:
    if _database(admin, name) is not None:
        admin.execute(sql.SQL("ALTER DATABASE {} IS_TEMPLATE false").format(sql.Identifier(name)))
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.mark.timeout(60)
def test_a_finished_template_is_cloned_as_it_is_and_stale_ones_are_dropped(
    django_db_setup: None,
) -> None:
    """A finished template is never migrated again, not even under --create-db in the run
    that built it; templates of other migration states go."""
    prefix = f"test_probe_{uuid.uuid4().hex[:8]}"
    template = template_name(prefix, template_digest())
    stale = template_name(prefix, "0" * 64)
    unrelated = f"{prefix}_tpl_kept"
    clone = f"{prefix}_clone"
    ours = template_name(template_prefix(), template_digest())
    owner = sql.Identifier(django_settings.HELPDESK_DB_ROLES["owner"])  # as the test runs make them
    with _connect("postgres") as admin:
        try:
            admin.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {} OWNER {}").format(
                    sql.Identifier(template), sql.Identifier(ours), owner
                )
            )
            # A table only this copy has: a rebuilt template would lack it.
            with _connect(template) as database:
                database.execute("CREATE TABLE probe_marker ()")
            for statement in (
                "ALTER DATABASE {} ALLOW_CONNECTIONS false",
                "ALTER DATABASE {} IS_TEMPLATE true",
                "COMMENT ON DATABASE {} IS " + f"'{TEMPLATE_MARK}earlier-run'",
            ):
                admin.execute(sql.SQL(statement).format(sql.Identifier(template)))
            for name in (stale, unrelated):
                admin.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), owner)
                )

            for run_id, rebuild in (("this-run", False), ("earlier-run", True)):
                create_test_database(
                    database=clone,
                    template_prefix=prefix,
                    run_id=run_id,
                    rebuild=rebuild,
                    verbosity=0,
                )
                with _connect(clone) as database:
                    marker = database.execute("SELECT to_regclass('probe_marker')").fetchone()
                    assert marker == ("probe_marker",)
            assert _database(admin, template) == (True, False, f"{TEMPLATE_MARK}earlier-run")
            assert _database(admin, stale) is None
            assert _database(admin, unrelated) is not None
        finally:
            for name in (clone, template, stale, unrelated):
                _drop(admin, name)


def test_the_per_test_timeout_counts_the_test_call_only(pytestconfig: pytest.Config) -> None:
    """Waiting for another worker to migrate the template is setup, with a limit of its own
    (TEMPLATE_LOCK_TIMEOUT)."""
    assert pytestconfig.getini("timeout_func_only") is True
    assert float(pytestconfig.getini("timeout")) <= 120


@pytest.mark.django_db
def test_test_connections_do_not_wait_for_the_disk_at_commit() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone() == ("off",)


def test_the_fault_stack_keeps_durable_commits() -> None:
    from tests.faults.stack import Stack

    assert "synchronous_commit=off" in os.environ["PGOPTIONS"]
    stack = Stack.__new__(Stack)
    stack.directory = Path("/nonexistent")
    assert "PGOPTIONS" not in stack._embedded_environment()


def test_each_test_process_has_its_own_cache_keys() -> None:
    from django.core.cache import cache

    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    assert cache.key_prefix == django_settings.CACHES["default"]["KEY_PREFIX"]
    assert cache.key_prefix.startswith("test-")
    assert cache.key_prefix.endswith(f"-{worker}")
