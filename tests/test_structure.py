"""Structural rules: every model is tenant-owned or global, every tenant table is under
forced RLS, every FK between tenant tables is composite, migrations and schema are clean."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection
from django.db.models import Model

from helpdesk.tenancy import GLOBAL_MODELS
from helpdesk.tenancy.models import Membership, TenantModel
from helpdesk.tenancy.rls import POLICY_NAME, TenantFK, TenantRLS

ROOT = Path(__file__).resolve().parent.parent
OUR_APPS = {
    "tenancy",
    "accounts",
    "core",
    "api",
    "ops",
    "departments",
    "knowledge_base",
    "tickets",
    "automation",
}


def _our_models() -> list[type[Model]]:
    return [m for m in apps.get_models() if m._meta.app_label in OUR_APPS]


def _tenant_models() -> list[type[TenantModel]]:
    return [m for m in _our_models() if issubclass(m, TenantModel)]


def _declares_tenant_rls(model: type[Model]) -> bool:
    return any(isinstance(c, TenantRLS) for c in model._meta.constraints)


def test_every_model_is_tenant_owned_or_global() -> None:
    # Tenant-owned: a TenantModel, or a model keyed otherwise that declares TenantRLS
    # itself (tickets.TicketSearch, keyed by its ticket).
    unclassified = [
        m._meta.label
        for m in _our_models()
        if not issubclass(m, TenantModel)
        and not _declares_tenant_rls(m)
        and m._meta.label not in GLOBAL_MODELS
    ]
    assert unclassified == []
    assert [
        m._meta.label
        for m in _our_models()
        if m._meta.label in GLOBAL_MODELS and _declares_tenant_rls(m)
    ] == []


def test_every_many_to_many_uses_a_tenant_owned_through_model() -> None:
    for model in _tenant_models():
        for field in model._meta.many_to_many:
            through = field.remote_field.through
            assert through is not None, field
            assert issubclass(through, TenantModel), field


@pytest.mark.django_db
def test_every_tenant_table_has_forced_rls_and_the_policy() -> None:
    tables = {m._meta.db_table for m in _our_models() if _declares_tenant_rls(m)}
    assert tables >= {m._meta.db_table for m in _tenant_models()}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,"
            " (SELECT count(*) FROM pg_policies p WHERE p.tablename = c.relname"
            "  AND p.policyname = %s)"
            " FROM pg_class c WHERE c.relname = ANY(%s) AND c.relkind = 'r'",
            [POLICY_NAME, list(tables)],
        )
        rows = {
            name: (enabled, forced, policies)
            for name, enabled, forced, policies in cursor.fetchall()
        }
    assert set(rows) == tables
    assert {name for name, state in rows.items() if state != (True, True, 1)} == set()


# Global lookup tables that name a tenant but hold no tenant data: they are read before any
# tenant is known (to find it), so no tenant policy can apply. Nothing else may be listed:
# every table of tenant data is under the forced policy, whatever model it comes from.
GLOBAL_LOOKUPS_WITH_A_TENANT_COLUMN = {
    # Host name -> tenant, read by TenantMiddleware to find the tenant.
    "tenancy_tenantdomain": "tenancy.TenantDomain",
    # Mail address -> tenant, read by mail intake to find the tenant.
    "tenancy_inboundaddress": "tenancy.InboundAddress",
    # Who may sign in where: read at login, before a tenant is chosen.
    "tenancy_membership": "tenancy.Membership",
    # Token hash -> member and tenant, read to authenticate a request.
    "accounts_apitoken": "accounts.ApiToken",
}


@pytest.mark.django_db
def test_every_table_with_a_tenant_column_has_forced_rls_and_the_policy() -> None:
    """From the catalog, not from our models: a table written by raw SQL or kept outside
    TenantModel is found all the same."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,"
            " EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = %s)"
            " FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()"
            " WHERE c.relkind IN ('r', 'p') AND EXISTS ("
            "  SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid"
            "  AND a.attname = 'tenant_id' AND NOT a.attisdropped)",
            [POLICY_NAME],
        )
        rows = {name: tuple(state) for name, *state in cursor.fetchall()}
    assert "tickets_ticket" in rows  # the query finds tenant tables at all
    unprotected = {name for name, state in rows.items() if state != (True, True, True)}
    assert unprotected == set(GLOBAL_LOOKUPS_WITH_A_TENANT_COLUMN)
    # The listed tables are global models' own, never a tenant model's.
    for table, label in GLOBAL_LOOKUPS_WITH_A_TENANT_COLUMN.items():
        assert label in GLOBAL_MODELS
        assert apps.get_model(label)._meta.db_table == table


# Global models (no RLS: read before a tenant is known) whose rows still belong to one
# tenant and carry a (tenant, id) key, so tenant rows can reference them safely.
TENANT_KEYED_GLOBAL_MODELS = (Membership,)


def test_every_fk_between_tenant_tables_declares_tenant_fk() -> None:
    missing = []
    for model in _tenant_models():
        declared = {c.field for c in model._meta.constraints if isinstance(c, TenantFK)}
        for field in model._meta.concrete_fields:
            target = getattr(field, "related_model", None)
            if (
                field.is_relation
                and field.name != "tenant"
                and target is not None
                and issubclass(target, (TenantModel, *TENANT_KEYED_GLOBAL_MODELS))
                and field.name not in declared
            ):
                missing.append(f"{model._meta.label}.{field.name}")
    assert missing == []


@pytest.mark.django_db
def test_tenant_fk_constraints_exist_in_the_database() -> None:
    expected = {
        c.name for m in _tenant_models() for c in m._meta.constraints if isinstance(c, TenantFK)
    }
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, convalidated FROM pg_constraint"
            " WHERE contype = 'f' AND conname = ANY(%s)",
            [list(expected)],
        )
        found = dict(cursor.fetchall())
    assert set(found) == expected
    # One added NOT VALID (AddTenantFKNotValid) is validated by a later migration.
    assert [name for name, valid in found.items() if not valid] == []


@pytest.mark.django_db
def test_tenant_tables_are_indexed_by_the_tenant_id_pair_only() -> None:
    """Every tenant-owned table leads its (tenant, id) unique index with the tenant, which
    serves every lookup by it; and no table keeps a plain index on its tenant column where
    another index starts with that column (expression and partial indexes count as others)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, i.relname, x.indisunique, x.indpred IS NOT NULL, x.indnatts,"
            " array(SELECT a.attname FROM unnest(x.indkey) WITH ORDINALITY k(n, o)"
            "       JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.n"
            "       ORDER BY k.o)::text[]"
            " FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid"
            " JOIN pg_class i ON i.oid = x.indexrelid"
            " JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'"
            " WHERE EXISTS (SELECT 1 FROM pg_attribute t WHERE t.attrelid = c.oid"
            "               AND t.attname = 'tenant_id' AND NOT t.attisdropped)",
        )
        indexes = cursor.fetchall()
    tables = {m._meta.db_table for m in _tenant_models()}
    pairs = {
        table
        for table, _, unique, _, _, columns in indexes
        if unique and columns == ["tenant_id", "id"]
    }
    assert tables <= pairs
    plain = {
        table: index
        for table, index, unique, partial, width, columns in indexes
        if columns == ["tenant_id"] and width == 1 and not unique and not partial
    }
    led = {
        table
        for table, index, _, partial, width, columns in indexes
        if columns[:1] == ["tenant_id"] and (width > 1 or partial) and index != plain.get(table)
    }
    assert {table: index for table, index in plain.items() if table in led} == {}


def test_all_tenants_is_used_only_in_ops_and_commands() -> None:
    # Periodic sweeps in tasks.py may ask the ops role which tenants have work (CONTRIBUTING.md).
    allowed = ("helpdesk/ops/", "/management/commands/", "helpdesk/tenancy/", "tests/", "/tasks.py")
    offenders = []
    for path in ROOT.rglob("*.py"):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith((".venv/", "var/")) or any(a in relative for a in allowed):
            continue
        if ".all_tenants" in path.read_text():
            offenders.append(relative)
    assert offenders == []


@pytest.mark.django_db(databases=["default", "owner", "ops"])
def test_migrations_are_complete() -> None:
    out = io.StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)


def test_openapi_schema_validates_without_warnings(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "spectacular",
            "--validate",
            "--fail-on-warn",
            "--file",
            str(tmp_path / "schema.yml"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
