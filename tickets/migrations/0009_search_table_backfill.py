"""Every ticket's search document moves to tickets_ticketsearch, then the old column goes.

Its own migration so that 0008's deferred constraint checks have run: reading
tickets_ticket as its owner needs row-level security lifted for this statement (the table
forces it even on the owner), and that ALTER TABLE needs no pending trigger events."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("tickets", "0008_search_table_and_list_indexes")]

    operations = [
        migrations.RunSQL(
            sql=[
                "ALTER TABLE tickets_ticket NO FORCE ROW LEVEL SECURITY",
                """
                INSERT INTO tickets_ticketsearch (ticket_id, tenant_id, indexed_at, document)
                SELECT id, tenant_id, coalesce(last_message_at, updated_at),
                       coalesce(search_vector, ''::tsvector)
                FROM tickets_ticket
                ON CONFLICT (ticket_id) DO NOTHING
                """,
                "ALTER TABLE tickets_ticket FORCE ROW LEVEL SECURITY",
            ],
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
