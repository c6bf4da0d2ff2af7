"""The search document now lives in tickets_ticketsearch (0008, filled by 0009)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("tickets", "0009_search_table_backfill")]

    operations = [
        migrations.RemoveIndex(
            model_name='ticket',
            name='tickets_ticket_search_idx',
        ),
        migrations.RemoveField(
            model_name='ticket',
            name='search_vector',
        ),
    ]
