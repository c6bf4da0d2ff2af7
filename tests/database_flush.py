"""Empty the test database after a transactional test with DELETE instead of TRUNCATE.

Django's flush truncates all tables and then re-runs every post_migrate hook (content
types, permissions, grants). TRUNCATE swaps the files of every table and index, so on this
2-core machine one flush took 1 to 3 s, more than most tests themselves. Deleting the rows
of the few tables a test wrote to takes milliseconds.

Where the server's administrator (the user of DATABASE_URL, `postgres` on the embedded
server) is a superuser, one connection of its own does it: row-level security does not
apply to it, so one statement finds the tables with rows and one deletes them, and with
`session_replication_role = replica` the deletes skip the foreign-key checks, which cost
more than the deletes (every tenant table refers to the tenant). That took 42 ms of a
transactional test's teardown down to a few.

Otherwise the tests' own connection does it as before: the owner role is subject to the
forced row-level security, so tenant tables are emptied once per tenant with that tenant
set, then the global tables. Every tenant table has a foreign key to the tenant, and all
foreign keys are deferred to the commit: a row left behind fails the commit, and then
Django's flush runs as before.

Content types and permissions stay, as the post_migrate hooks would have recreated them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
from django.conf import settings
from django.db import DatabaseError, connections, transaction
from django.test import TransactionTestCase

from helpdesk.tenancy.models import Tenant
from tests import database_template

KEPT_TABLES = {"django_content_type", "auth_permission", "django_migrations"}

_tables: dict[str, tuple[list[str], list[str]]] = {}
# The administrator's connection to this process's test database, once made; None when
# the administrator is no superuser (or cannot connect), so the tests' connection empties.
_admin: dict[str, psycopg.Connection[Any] | None] = {}


def _table_names(alias: str) -> tuple[list[str], list[str]]:
    """(The tenant tables, every other table) of this database, quoted."""
    if alias not in _tables:
        connection = connections[alias]
        tables = set(connection.introspection.django_table_names(only_existing=True))
        tables -= KEPT_TABLES
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT relname FROM pg_class WHERE relrowsecurity AND relname = ANY(%s)",
                [sorted(tables)],
            )
            tenant_tables = {name for (name,) in cursor.fetchall()}
        # The names come from the catalogue and are quoted: nothing from outside.
        quote = connection.ops.quote_name
        _tables[alias] = (
            [quote(table) for table in sorted(tenant_tables)],
            [quote(table) for table in sorted(tables - tenant_tables)],
        )
    return _tables[alias]


def _delete_rows(cursor: Any, tables: list[str]) -> None:
    """Delete the rows of those of `tables` that have rows (that this role sees): one
    statement finds them, one deletes them."""
    # The names come from the catalogue and are quoted: nothing from outside.
    probes = ", ".join(f"EXISTS (SELECT FROM {table})" for table in tables)
    cursor.execute(f"SELECT {probes}")
    used = [table for table, has_rows in zip(tables, cursor.fetchone(), strict=True) if has_rows]
    if used:
        cursor.execute("".join(f"DELETE FROM {table};" for table in used))  # noqa: S608


def _admin_connection(alias: str) -> psycopg.Connection[Any] | None:
    """The administrator's connection to the test database, if it is a superuser."""
    name = str(connections[alias].settings_dict["NAME"])
    key = f"{alias}:{name}"
    if key not in _admin:
        server = settings.HELPDESK_DATABASE_SERVER
        admin: psycopg.Connection[Any] | None = None
        try:
            admin = database_template.connect(
                dbname=name,
                user=server["ADMIN_USER"],
                password=server["ADMIN_PASSWORD"],
                application_name="helpdesk-test-flush",
                autocommit=True,
            )
            found = admin.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            if found.fetchone() != (True,):
                admin.close()
                admin = None
        except psycopg.Error:
            admin = None
        _admin[key] = admin
    return _admin[key]


def empty_database(alias: str) -> None:
    """Delete every row the test left (raises DatabaseError if one cannot be deleted)."""
    tenant_tables, other_tables = _table_names(alias)
    admin = _admin_connection(alias)
    if admin is not None:
        try:
            with admin.transaction(), admin.cursor() as cursor:
                cursor.execute("SET LOCAL session_replication_role = replica")
                _delete_rows(cursor, tenant_tables + other_tables)
        except psycopg.Error as error:
            close()  # a broken connection is made anew for the next test
            raise DatabaseError(str(error)) from error
        return
    connection = connections[alias]
    with transaction.atomic(using=alias), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        tenants = connection.ops.quote_name(Tenant._meta.db_table)
        cursor.execute(f"SELECT id FROM {tenants}")  # noqa: S608 (a quoted model table)
        for (tenant_id,) in cursor.fetchall():
            cursor.execute("SELECT set_config('app.tenant_id', %s, true)", [str(tenant_id)])
            _delete_rows(cursor, tenant_tables)
        cursor.execute("SELECT set_config('app.tenant_id', '', true)")
        _delete_rows(cursor, other_tables)


def close() -> None:
    """Close the administrator's connections (before the test database is dropped)."""
    for admin in _admin.values():
        if admin is not None:
            admin.close()
    _admin.clear()


def install() -> None:
    """Make TransactionTestCase (pytest-django's transactional_db) empty the database so."""
    django_teardown: Callable[[Any], None] = TransactionTestCase._fixture_teardown  # type: ignore[attr-defined]

    def fixture_teardown(self: TransactionTestCase) -> None:
        if self.available_apps is not None or self.serialized_rollback:
            django_teardown(self)
            return
        for alias in self._databases_names(include_mirrors=False):  # type: ignore[attr-defined]
            try:
                empty_database(alias)
            except DatabaseError:  # rolled back: Django's TRUNCATE empties everything
                django_teardown(self)
                return

    TransactionTestCase._fixture_teardown = fixture_teardown  # type: ignore[attr-defined]
