# Outgoing mail moves to the one outbox (helpdesk.mail OutboundEmail): a message that goes out
# by email links to its outbox email, which holds the delivery state. Mail settled before
# (sent, delivered, failed, unknown) keeps its recorded state in legacy_* columns, never
# written again. Mail still in flight (queued, sending) keeps its state there too, as a mark:
# the outbound sweeper (tickets.mail_out) gives it its outbox email with the live builder.
# This migration uses no live code, so it runs the same after later model changes.

import django.db.models.deletion
from django.db import migrations, models

import helpdesk.tenancy.rls

STATUSES = ["", "queued", "sending", "sent", "unknown", "delivered", "failed"]


class Migration(migrations.Migration):
    dependencies = [
        ("mail", "0001_outbound_email"),
        ("tenancy", "0003_membership_session_generation"),
        ("tickets", "0022_message_sending_status"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="message",
            name="tickets_message_delivery_valid",
        ),
        migrations.RemoveIndex(
            model_name="message",
            name="tickets_message_outbound_idx",
        ),
        migrations.RemoveField(
            model_name="message",
            name="provider_message_id",
        ),
        migrations.RenameField(
            model_name="message", old_name="delivery_status", new_name="legacy_delivery_status"
        ),
        migrations.RenameField(
            model_name="message", old_name="delivery_error", new_name="legacy_delivery_error"
        ),
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
                help_text="Mail settled before the outbox existed; never written since.",
                max_length=16,
            ),
        ),
        migrations.AddConstraint(
            model_name="message",
            constraint=models.CheckConstraint(
                condition=models.Q(("legacy_delivery_status__in", STATUSES)),
                name="tickets_message_delivery_valid",
            ),
        ),
        migrations.AddField(
            model_name="message",
            name="outbound_email",
            field=models.OneToOneField(
                blank=True,
                help_text=(
                    "For a reply by email: the mail in the outbox, which holds its delivery state."
                ),
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="mail.outboundemail",
            ),
        ),
        migrations.AddConstraint(
            model_name="message",
            constraint=helpdesk.tenancy.rls.TenantFK(
                "outbound_email", name="tickets_message_outbound_email_tenant_fk"
            ),
        ),
    ]
