"""The customer portal's sign-in link gets its own outbox kind (it went out as a password
reset). The kind's check constraint is replaced NOT VALID (a moment's lock, no scan of the
outbox); 0004 validates it. Sign-in links already in the outbox (their key starts with
`portal-sign-in:`) take the new kind, tenant by tenant under the forced policy."""

from django.db import migrations, models

KINDS = ["reply", "auto_reply", "notification", "invitation", "password_reset", "portal_sign_in"]
KIND_CHECK = ", ".join(f"'{kind}'" for kind in KINDS)


def retag_sign_in_links(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT id FROM tenancy_tenant")
        for (tenant_id,) in cursor.fetchall():
            cursor.execute("SELECT set_config('app.tenant_id', %s, true)", [str(tenant_id)])
            cursor.execute(
                "UPDATE mail_outboundemail SET kind = 'portal_sign_in'"
                " WHERE kind = 'password_reset' AND key LIKE %s",
                ["portal-sign-in:%"],
            )
        cursor.execute("SELECT set_config('app.tenant_id', '', true)")


def retag_back(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT id FROM tenancy_tenant")
        for (tenant_id,) in cursor.fetchall():
            cursor.execute("SELECT set_config('app.tenant_id', %s, true)", [str(tenant_id)])
            cursor.execute(
                "UPDATE mail_outboundemail SET kind = 'password_reset'"
                " WHERE kind = 'portal_sign_in'"
            )
        cursor.execute("SELECT set_config('app.tenant_id', '', true)")


class Migration(migrations.Migration):
    dependencies = [
        ("mail", "0002_day_one_tools"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveConstraint(
                    model_name="outboundemail",
                    name="mail_outboundemail_kind_valid",
                ),
                migrations.AlterField(
                    model_name="outboundemail",
                    name="kind",
                    field=models.CharField(
                        choices=[
                            ("reply", "Reply"),
                            ("auto_reply", "Automatic reply"),
                            ("notification", "Agent notification"),
                            ("invitation", "Invitation"),
                            ("password_reset", "Password reset"),
                            ("portal_sign_in", "Customer portal sign-in link"),
                        ],
                        max_length=32,
                    ),
                ),
                migrations.AddConstraint(
                    model_name="outboundemail",
                    constraint=models.CheckConstraint(
                        condition=models.Q(("kind__in", KINDS)),
                        name="mail_outboundemail_kind_valid",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    "ALTER TABLE mail_outboundemail"
                    " DROP CONSTRAINT mail_outboundemail_kind_valid,"
                    " ADD CONSTRAINT mail_outboundemail_kind_valid"
                    f" CHECK (kind IN ({KIND_CHECK})) NOT VALID",
                    reverse_sql=(
                        "ALTER TABLE mail_outboundemail"
                        " DROP CONSTRAINT mail_outboundemail_kind_valid,"
                        " ADD CONSTRAINT mail_outboundemail_kind_valid CHECK (kind IN"
                        " ('reply', 'auto_reply', 'notification', 'invitation',"
                        " 'password_reset')) NOT VALID"
                    ),
                ),
            ],
        ),
        migrations.RunPython(retag_sign_in_links, retag_back),
    ]
