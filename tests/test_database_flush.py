"""After a transactional test the database is emptied by DELETE (tests/database_flush.py):
every row of every tenant goes, and content types stay, whether the server's administrator
empties it in one go or the tests' own connection tenant by tenant."""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection, connections

from helpdesk.tenancy.context import tenant_context
from tests import database_flush
from tests.conftest import make_tenant
from tests.factories.tickets import make_ticket

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "ops"])


def _rows_of_every_tenant() -> dict[str, int]:
    """Row counts of the non-empty tables, read through the ops role (BYPASSRLS)."""
    tables = connection.introspection.django_table_names(only_existing=True)
    counts = {}
    with connections["ops"].cursor() as cursor:
        for table in tables:
            cursor.execute(f'SELECT count(*) FROM "{table}"')  # noqa: S608 (our table names)
            counts[table] = cursor.fetchone()[0]
    return {table: count for table, count in counts.items() if count}


@pytest.mark.parametrize("way", ["administrator", "tenant by tenant"])
def test_every_tenant_row_is_deleted_and_content_types_stay(
    way: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if way == "administrator":
        if database_flush._admin_connection("default") is None:
            pytest.skip("the DATABASE_URL user is no superuser: the flush goes tenant by tenant")
    else:
        monkeypatch.setattr(database_flush, "_admin_connection", lambda alias: None)
    for slug in ("acme", "globex"):
        setup = make_tenant(slug, slug.title())
        with tenant_context(setup.id):
            make_ticket()
    before = _rows_of_every_tenant()
    assert {"tenancy_tenant", "tickets_ticket", "tickets_message"} <= set(before)
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")  # the teardown runs as the owner

    database_flush.empty_database("default")

    left = _rows_of_every_tenant()
    assert set(left) <= database_flush.KEPT_TABLES, left
    assert ContentType.objects.exists()
