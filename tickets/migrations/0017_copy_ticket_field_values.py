"""Copy every ticket's custom field values into TicketFieldValue rows (0016).

The digest is computed in Python, by the function the services use, so the copied rows
match what a later filter looks for. A migration of its own, as 0014: 0016's foreign keys
are validated when its schema work ends.
"""

import json

from django.db import migrations

from helpdesk.core.ids import new_id
from tickets.models.core import field_value_digest

BATCH = 2000


def copy_field_values(apps, schema_editor):
    """RLS is forced even for the owner: lifted for this copy (as in 0014). Tickets are read
    through a server-side cursor, so a big table is not held in memory."""
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE tickets_ticket NO FORCE ROW LEVEL SECURITY")
        cursor.execute("ALTER TABLE tickets_ticketfieldvalue NO FORCE ROW LEVEL SECURITY")
    with connection.chunked_cursor() as tickets, connection.cursor() as insert:
        tickets.execute(
            "SELECT id, tenant_id, custom_fields::text FROM tickets_ticket"
            " WHERE jsonb_typeof(custom_fields) = 'object' AND custom_fields <> '{}'::jsonb"
        )
        while rows := tickets.fetchmany(BATCH):
            values = [
                (new_id(), tenant_id, ticket_id, key, field_value_digest(value))
                for ticket_id, tenant_id, fields in rows
                for key, value in json.loads(fields).items()
                if value is not None and len(key) <= 40
            ]
            if values:
                insert.executemany(
                    "INSERT INTO tickets_ticketfieldvalue"
                    " (id, tenant_id, ticket_id, key, digest, created_at, updated_at)"
                    " VALUES (%s, %s, %s, %s, %s, now(), now())"
                    " ON CONFLICT (tenant_id, ticket_id, key) DO NOTHING",
                    values,
                )
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE tickets_ticketfieldvalue FORCE ROW LEVEL SECURITY")
        cursor.execute("ALTER TABLE tickets_ticket FORCE ROW LEVEL SECURITY")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


class Migration(migrations.Migration):

    dependencies = [
        ("tickets", "0016_ticket_field_values"),
    ]

    operations = [
        migrations.RunPython(copy_field_values, migrations.RunPython.noop),
    ]
