"""Existing tickets get the snippet of their last customer message or reply.

Separate from 0006 so that its deferred constraint checks have run: the table forces
row-level security even on its owner, and lifting that for this one update needs an
ALTER TABLE with no pending trigger events."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("tickets", "0006_workspace")]

    operations = [
        # Existing tickets get the snippet of their last customer message or reply. The
        # table forces row-level security even on its owner: lift it for this one update.
        migrations.RunSQL(
            sql=[
                "ALTER TABLE tickets_ticket NO FORCE ROW LEVEL SECURITY",
                "ALTER TABLE tickets_message NO FORCE ROW LEVEL SECURITY",
                """
                UPDATE tickets_ticket t SET last_message_snippet = left(regexp_replace(
                    m.body_text, '\\s+', ' ', 'g'), 200)
                FROM (
                    SELECT DISTINCT ON (ticket_id) ticket_id, body_text FROM tickets_message
                    WHERE kind IN ('customer', 'reply')
                    ORDER BY ticket_id, created_at DESC
                ) m
                WHERE m.ticket_id = t.id
                """,
                "ALTER TABLE tickets_message FORCE ROW LEVEL SECURITY",
                "ALTER TABLE tickets_ticket FORCE ROW LEVEL SECURITY",
            ],
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
