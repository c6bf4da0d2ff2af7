"""Schema constraints that make every tenant-owned table safe by construction.

`TenantRLS` enables and forces row-level security with one policy on `app.tenant_id`;
`TenantFK` adds a composite foreign key `(tenant_id, field_id) -> (tenant_id, id)`, since
PostgreSQL does not apply RLS to foreign-key checks. Both are `Meta.constraints`, so
`makemigrations` writes them for every new model and the migration history keeps them.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

POLICY_NAME = "tenant_isolation"
POLICY_PREDICATE = "tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid"


def _required(value: Any) -> Any:
    """Django passes model and schema editor to every constraint hook; None is a bug."""
    if value is None:
        raise TypeError("constraint hook called without a model or schema editor")
    return value


class TenantRLS(models.BaseConstraint):
    """ENABLE + FORCE row-level security with the `tenant_isolation` policy."""

    def __init__(self, *, name: str, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)

    def _statements(self, table: str) -> list[str]:
        quoted = f'"{table}"'
        return [
            f"ALTER TABLE {quoted} ENABLE ROW LEVEL SECURITY",
            f"ALTER TABLE {quoted} FORCE ROW LEVEL SECURITY",
            f"DROP POLICY IF EXISTS {POLICY_NAME} ON {quoted}",
            f"CREATE POLICY {POLICY_NAME} ON {quoted} USING ({POLICY_PREDICATE}) "
            f"WITH CHECK ({POLICY_PREDICATE})",
        ]

    # Django skips a None from constraint_sql/create_sql; the stubs only allow str.
    def constraint_sql(  # type: ignore[override]
        self, model: type[models.Model] | None, schema_editor: BaseDatabaseSchemaEditor | None
    ) -> None:
        # Called while CREATE TABLE is built; the policy can only follow the table.
        model, schema_editor = _required(model), _required(schema_editor)
        schema_editor.deferred_sql.extend(self._statements(model._meta.db_table))
        return None

    def create_sql(
        self, model: type[models.Model] | None, schema_editor: BaseDatabaseSchemaEditor | None
    ) -> str:
        model = _required(model)
        return "; ".join(self._statements(model._meta.db_table))

    def remove_sql(
        self, model: type[models.Model] | None, schema_editor: BaseDatabaseSchemaEditor | None
    ) -> str:
        model = _required(model)
        table = f'"{model._meta.db_table}"'
        return (
            f"DROP POLICY IF EXISTS {POLICY_NAME} ON {table}; "
            f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY; "
            f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY"
        )

    def validate(self, *args: Any, **kwargs: Any) -> None:
        return None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TenantRLS) and other.name == self.name

    def __hash__(self) -> int:
        return hash((type(self), self.name))


class TenantFK(models.BaseConstraint):
    """Composite FK so a row can only reference a row of its own tenant."""

    def __init__(self, field: str, *, name: str | None = None, **kwargs: Any) -> None:
        self.field = field
        super().__init__(name=name or f"%(app_label)s_%(class)s_{field}_tenant_fk", **kwargs)

    def _parts(self, model: type[models.Model]) -> tuple[str, str, str, str]:
        field = model._meta.get_field(self.field)
        if not isinstance(field, models.ForeignKey):
            raise TypeError(f"TenantFK({self.field!r}) names no foreign key of {model.__name__}")
        target = field.related_model._meta.db_table
        return model._meta.db_table, field.column, target, self.name

    def _add_sql(self, model: type[models.Model]) -> str:
        table, column, target, name = self._parts(model)
        return (
            f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" FOREIGN KEY '
            f'("tenant_id", "{column}") REFERENCES "{target}" ("tenant_id", "id") '
            "DEFERRABLE INITIALLY DEFERRED"
        )

    # Django skips a None from constraint_sql/create_sql; the stubs only allow str.
    def constraint_sql(  # type: ignore[override]
        self, model: type[models.Model] | None, schema_editor: BaseDatabaseSchemaEditor | None
    ) -> None:
        # Deferred like Django's own FKs, so tables may be created in any order.
        model, schema_editor = _required(model), _required(schema_editor)
        schema_editor.deferred_sql.append(self._add_sql(model))
        return None

    def create_sql(  # type: ignore[override]
        self, model: type[models.Model] | None, schema_editor: BaseDatabaseSchemaEditor | None
    ) -> None:
        # Also deferred: the (tenant_id, id) key it references may be added later in the
        # same migration.
        model, schema_editor = _required(model), _required(schema_editor)
        schema_editor.deferred_sql.append(self._add_sql(model))
        return None

    def remove_sql(
        self, model: type[models.Model] | None, schema_editor: BaseDatabaseSchemaEditor | None
    ) -> str:
        model = _required(model)
        return f'ALTER TABLE "{model._meta.db_table}" DROP CONSTRAINT IF EXISTS "{self.name}"'

    def validate(self, *args: Any, **kwargs: Any) -> None:
        return None

    def deconstruct(self) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
        path, _, kwargs = super().deconstruct()
        return path, (self.field,), kwargs

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TenantFK) and (other.field, other.name) == (self.field, self.name)

    def __hash__(self) -> int:
        return hash((type(self), self.field, self.name))


class AddTenantFKNotValid(migrations.AddConstraint):
    """AddConstraint of a TenantFK on a table that already has rows: added NOT VALID, which
    takes its lock only for a moment instead of scanning the table while writes wait. New
    rows are checked at once; a later migration's ValidateTenantFK checks the old ones
    without blocking writes."""

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: Any,
        to_state: Any,
    ) -> None:
        model = to_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            constraint = self.constraint
            if not isinstance(constraint, TenantFK):
                raise TypeError("AddTenantFKNotValid adds a TenantFK")
            schema_editor.execute(constraint._add_sql(model) + " NOT VALID")

    def describe(self) -> str:
        return f"{super().describe()} (not valid yet)"


class ValidateTenantFK(migrations.operations.base.Operation):
    """Check the existing rows against a TenantFK added NOT VALID (SHARE UPDATE EXCLUSIVE:
    reads and writes go on). A row of another tenant stops it, naming the key."""

    reversible = True

    def __init__(self, model_name: str, name: str) -> None:
        self.model_name = model_name
        self.name = name

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return type(self).__qualname__, [], {"model_name": self.model_name, "name": self.name}

    def state_forwards(self, app_label: str, state: Any) -> None:
        pass

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: Any,
        to_state: Any,
    ) -> None:
        model = to_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            schema_editor.execute(
                f'ALTER TABLE "{model._meta.db_table}" VALIDATE CONSTRAINT "{self.name}"'
            )

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: Any,
        to_state: Any,
    ) -> None:
        pass  # a valid constraint stays valid; removing it is the adding migration's undo

    def describe(self) -> str:
        return f"Validate {self.name} on {self.model_name}"
