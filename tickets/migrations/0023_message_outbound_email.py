# Outgoing mail moves to the one outbox (helpdesk.mail OutboundEmail): a message that goes out
# by email links to its outbox email, which holds the delivery state. Mail settled before
# (sent, delivered, failed, unknown) keeps its recorded state in legacy_* columns, never
# written again; mail still in flight (queued, sending) gets its outbox email here.

import django.db.models.deletion
from django.db import migrations, models

import helpdesk.tenancy.rls

STATUSES = ["", "queued", "sending", "sent", "unknown", "delivered", "failed"]


def give_in_flight_mail_its_outbox_email(apps, schema_editor):
    """Tenant by tenant, under row-level security: each queued or sending message gets its
    outbox email, built by the live builder (the mail must be exactly what the code sends;
    this runs with the models as this migration leaves them). Queued ones are left to the
    outbox sweeper (and to their task, still in Redis under its old name, which delegates);
    sending ones stay sending with their time, so the sweeper marks a send cut short by the
    deploy unknown as before. Nothing in flight (a fresh database): nothing to do."""
    from helpdesk.mail import services as mail
    from helpdesk.mail.models import OutboundEmail
    from helpdesk.tenancy import selectors as tenancy_selectors
    from helpdesk.tenancy.context import tenant_context
    from tickets.mail_out import services as mail_out
    from tickets.models import Message

    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT id FROM tenancy_tenant")
        tenant_ids = [row[0] for row in cursor.fetchall()]
    for tenant_id in tenant_ids:
        with tenant_context(tenant_id):
            in_flight = list(
                Message.objects.filter(
                    legacy_delivery_status__in=["queued", "sending"], outbound_email__isnull=True
                ).select_related("ticket__contact", "ticket__department", "ticket__mailbox")
            )
            if not in_flight:
                continue
            tenant = tenancy_selectors.get_tenant(tenant_id)
            for message in in_flight:
                email = mail_out.build_email(
                    message, tenant_name=tenant.name, language=tenant.language
                )
                outbound = mail.queue_email(
                    email,
                    status=message.legacy_delivery_status,
                    error=message.legacy_delivery_error,
                    deliver=False,
                )
                OutboundEmail.objects.filter(id=outbound.id).update(updated_at=message.updated_at)
                Message.objects.filter(id=message.id).update(
                    outbound_email=outbound, legacy_delivery_status="", legacy_delivery_error=""
                )


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
        migrations.RunPython(give_in_flight_mail_its_outbox_email, migrations.RunPython.noop),
    ]
