# Replies in flight from before the outbox (0023 left them queued or sending by their legacy
# status) are found by the outbound sweeper every minute: a partial index, empty once they
# have their outbox email.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("mail", "0001_outbound_email"),
        ("tenancy", "0003_membership_session_generation"),
        ("tickets", "0023_message_outbound_email"),
    ]

    operations = [
        migrations.AlterField(
            model_name="message",
            name="legacy_delivery_status",
            field=models.CharField(
                blank=True,
                choices=[
                    ("", "Not emailed"),
                    ("queued", "Queued"),
                    ("sending", "Being sent"),
                    ("sent", "Sent"),
                    ("unknown", "Interrupted (may not have been sent)"),
                    ("delivered", "Delivered"),
                    ("failed", "Failed"),
                ],
                default="",
                help_text=(
                    "Mail from before the outbox: its recorded state. Queued or sending until the"
                    " outbound sweeper gives it its outbox email; settled ones are never written"
                    " since."
                ),
                max_length=16,
            ),
        ),
        migrations.AddIndex(
            model_name="message",
            index=models.Index(
                condition=models.Q(
                    ("legacy_delivery_status__in", ["queued", "sending"]),
                    ("outbound_email__isnull", True),
                ),
                fields=["tenant"],
                name="tickets_message_legacy_idx",
            ),
        ),
    ]
