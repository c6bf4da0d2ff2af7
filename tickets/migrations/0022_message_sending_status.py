# Outgoing mail is claimed (queued -> sending) and committed before it is sent; a send cut
# short leaves it in sending, which the outbound sweeper turns into unknown.

from django.db import migrations, models

STATUSES = ["", "queued", "sending", "sent", "unknown", "delivered", "failed"]


class Migration(migrations.Migration):
    dependencies = [
        ("tickets", "0021_search_documents_under_rls"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="message",
            name="tickets_message_delivery_valid",
        ),
        migrations.AlterField(
            model_name="message",
            name="delivery_status",
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
                max_length=16,
            ),
        ),
        migrations.AddConstraint(
            model_name="message",
            constraint=models.CheckConstraint(
                condition=models.Q(delivery_status__in=STATUSES),
                name="tickets_message_delivery_valid",
            ),
        ),
        migrations.AddIndex(
            model_name="message",
            index=models.Index(
                condition=models.Q(delivery_status__in=["queued", "sending"]),
                fields=["tenant", "delivery_status", "updated_at"],
                name="tickets_message_outbound_idx",
            ),
        ),
    ]
