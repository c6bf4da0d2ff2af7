"""Empty the test database after a transactional test with DELETE instead of TRUNCATE.

Django's flush truncates all 69 tables and then re-runs every post_migrate hook (content
types, permissions, grants). TRUNCATE swaps the files of every table and index, so on this
2-core machine one flush took 1 to 3 s, more than most tests themselves. Deleting the rows
of a few mostly empty tables takes milliseconds.

The owner role (the tests' connection) is subject to the forced row-level security, so
tenant tables are emptied once per tenant with that tenant set, then the global tables.
Every tenant table has a foreign key to the tenant, and all foreign keys are deferred to
the commit: a row left behind fails the commit, and then Django's flush runs as before.
Content types and permissions stay, as the post_migrate hooks would have recreated them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import DatabaseError, connections, transaction
from django.test import TransactionTestCase

from helpdesk.tenancy.models import Tenant

KEPT_TABLES = {"django_content_type", "auth_permission", "django_migrations"}

_statements: dict[str, tuple[str, str]] = {}


def _delete_statements(alias: str) -> tuple[str, str]:
    """(DELETE of every tenant table, DELETE of every other table) for this database."""
    if alias not in _statements:
        connection = connections[alias]
        tables = set(connection.introspection.django_table_names(only_existing=True))
        tables -= KEPT_TABLES
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT relname FROM pg_class WHERE relrowsecurity AND relname = ANY(%s)",
                [sorted(tables)],
            )
            tenant_tables = {name for (name,) in cursor.fetchall()}
        quote = connection.ops.quote_name
        # The names come from the catalogue and are quoted: nothing from outside.
        delete = "DELETE FROM {};".format
        _statements[alias] = (
            "".join(delete(quote(table)) for table in sorted(tenant_tables)),
            "".join(delete(quote(table)) for table in sorted(tables - tenant_tables)),
        )
    return _statements[alias]


def empty_database(alias: str) -> None:
    """Delete every row the test left (raises DatabaseError if one cannot be deleted)."""
    tenant_rows, other_rows = _delete_statements(alias)
    connection = connections[alias]
    with transaction.atomic(using=alias), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        tenants = connection.ops.quote_name(Tenant._meta.db_table)
        cursor.execute(f"SELECT id FROM {tenants}")  # noqa: S608 (a quoted model table)
        for (tenant_id,) in cursor.fetchall():
            cursor.execute("SELECT set_config('app.tenant_id', %s, true)", [str(tenant_id)])
            cursor.execute(tenant_rows)
        cursor.execute("SELECT set_config('app.tenant_id', '', true)")
        cursor.execute(other_rows)


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
