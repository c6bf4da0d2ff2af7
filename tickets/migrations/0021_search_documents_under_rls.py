"""The search documents go under the forced `tenant_isolation` policy like every tenant
table, and the search reads them through a view that keeps the GIN index usable.

Under row-level security PostgreSQL uses no index for `@@` (the operator is not
LEAKPROOF), so a rare word would read every document of the tenant. The view
`tickets_ticketsearch_current` holds the current tenant's documents only: it filters by
the same `app.tenant_id` setting as the policy (nothing without it) and belongs to the ops
role, which has BYPASSRLS, so the policy is not applied a second time inside it and the
planner may use the GIN index. helpdesk_app may only read it; writes go to the table,
under the policy. Giving the view to the ops role needs helpdesk_owner to be a member of
it (`manage.py setup_database` grants that) and the ops role to hold CREATE on the schema
for that one statement.
"""

from django.conf import settings
from django.db import migrations

import helpdesk.tenancy.rls

VIEW = "tickets_ticketsearch_current"


def create_search_view(apps, schema_editor):
    app, ops = settings.HELPDESK_DB_ROLES["app"], settings.HELPDESK_DB_ROLES["ops"]
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT pg_has_role(current_user, %s, 'MEMBER')", [ops])
        if not cursor.fetchone()[0]:
            raise RuntimeError(
                f"the migrating role must be a member of {ops}: run `manage.py setup_database`"
                " (it grants that) and migrate again"
            )
    # The policy's predicate (helpdesk.tenancy.rls.POLICY_PREDICATE), written out: a
    # migration keeps what it did when the code changes.
    schema_editor.execute(
        f'CREATE VIEW "{VIEW}" AS SELECT ticket_id, indexed_at, document'  # noqa: S608 - constants
        " FROM tickets_ticketsearch"
        " WHERE tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid"
    )
    schema_editor.execute(f'GRANT SELECT ON tickets_ticketsearch TO "{ops}"')
    schema_editor.execute(f'GRANT CREATE ON SCHEMA public TO "{ops}"')
    schema_editor.execute(f'ALTER VIEW "{VIEW}" OWNER TO "{ops}"')
    schema_editor.execute(f'REVOKE CREATE ON SCHEMA public FROM "{ops}"')
    schema_editor.execute(f'REVOKE ALL ON "{VIEW}" FROM PUBLIC')
    schema_editor.execute(f'GRANT SELECT ON "{VIEW}" TO "{app}"')


def drop_search_view(apps, schema_editor):
    schema_editor.execute(f'DROP VIEW IF EXISTS "{VIEW}"')


class Migration(migrations.Migration):
    dependencies = [
        ("tickets", "0020_message_email_cc"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="ticketsearch",
            constraint=helpdesk.tenancy.rls.TenantRLS(name="tickets_ticketsearch_rls"),
        ),
        migrations.RunPython(create_search_view, drop_search_view),
    ]
