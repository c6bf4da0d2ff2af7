"""Mailbox IMAP connection security: SSL/TLS, STARTTLS or none, instead of a TLS yes/no.

Mailboxes that used TLS keep SSL/TLS; the ones that did not keep a plain connection
("none"), as they polled before: an admin chooses STARTTLS where the server offers it.
"""

from django.db import migrations, models


def _update(schema_editor, sql):
    """RLS is forced even for the owner: lifted for this one update (as in 0003)."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("ALTER TABLE departments_mailbox NO FORCE ROW LEVEL SECURITY")
        cursor.execute(sql)
        cursor.execute("ALTER TABLE departments_mailbox FORCE ROW LEVEL SECURITY")


def from_use_ssl(apps, schema_editor):
    _update(schema_editor, "UPDATE departments_mailbox SET imap_security = 'none' WHERE NOT imap_use_ssl")


def to_use_ssl(apps, schema_editor):
    _update(schema_editor, "UPDATE departments_mailbox SET imap_use_ssl = false WHERE imap_security <> 'ssl'")


class Migration(migrations.Migration):
    dependencies = [
        ("departments", "0004_business_hours"),
    ]

    operations = [
        migrations.AddField(
            model_name="mailbox",
            name="imap_security",
            field=models.CharField(
                choices=[
                    ("ssl", "SSL/TLS (encrypted from the start, usually port 993)"),
                    (
                        "starttls",
                        "STARTTLS (upgraded before login, usually port 143; required)",
                    ),
                    ("none", "None (password in clear text: trusted networks only)"),
                ],
                default="ssl",
                max_length=10,
            ),
        ),
        migrations.RunPython(from_use_ssl, to_use_ssl),
        migrations.RemoveField(
            model_name="mailbox",
            name="imap_use_ssl",
        ),
    ]
