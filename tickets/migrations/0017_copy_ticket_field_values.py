"""Copy every ticket's custom field values into TicketFieldValue rows (0016).

Tenant by tenant, with the tenant set as the app sets it, so row-level security stays
forced: lifting it would lock the ticket table for the whole copy. Tickets are read
through a server-side cursor; an existing row gets the digest again, so running the copy
twice (or after the services wrote some rows) leaves the right ones. A migration of its
own, as 0014: 0016's foreign keys are added when its schema work ends.
"""

import hashlib
import json

from django.db import migrations

from helpdesk.core.ids import new_id

BATCH = 2000


def digest(value):
    """tickets.models.field_value_digest as it was when this migration was written."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def copy_field_values(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM tenancy_tenant ORDER BY id")
        tenant_ids = [row[0] for row in cursor.fetchall()]
    for tenant_id in tenant_ids:
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('app.tenant_id', %s, true)", [str(tenant_id)])
        with connection.chunked_cursor() as tickets, connection.cursor() as insert:
            tickets.execute(
                "SELECT id, custom_fields::text FROM tickets_ticket WHERE tenant_id = %s"
                " AND jsonb_typeof(custom_fields) = 'object' AND custom_fields <> '{}'::jsonb",
                [tenant_id],
            )
            while rows := tickets.fetchmany(BATCH):
                values = [
                    (new_id(), tenant_id, ticket_id, key, digest(value))
                    for ticket_id, fields in rows
                    for key, value in json.loads(fields).items()
                    if value is not None and len(key) <= 40
                ]
                if values:
                    insert.executemany(
                        "INSERT INTO tickets_ticketfieldvalue"
                        " (id, tenant_id, ticket_id, key, digest, created_at, updated_at)"
                        " VALUES (%s, %s, %s, %s, %s, now(), now())"
                        " ON CONFLICT (tenant_id, ticket_id, key)"
                        " DO UPDATE SET digest = EXCLUDED.digest, updated_at = now()",
                        values,
                    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('app.tenant_id', '', true)")


class Migration(migrations.Migration):

    dependencies = [
        ("tickets", "0016_ticket_field_values"),
    ]

    operations = [
        migrations.RunPython(copy_field_values, migrations.RunPython.noop),
    ]
