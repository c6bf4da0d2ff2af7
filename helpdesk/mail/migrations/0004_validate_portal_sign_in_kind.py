"""Validate the outbox kind's check constraint added NOT VALID in 0003: a scan that lets
mail be queued and sent meanwhile (SHARE UPDATE EXCLUSIVE)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("mail", "0003_portal_sign_in_kind"),
    ]

    operations = [
        migrations.RunSQL(
            "ALTER TABLE mail_outboundemail VALIDATE CONSTRAINT mail_outboundemail_kind_valid",
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
