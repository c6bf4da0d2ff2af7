"""Issue 17: the raw bytes of inbound mail are compressed with lz4 instead of pglz.

Every mail is written whole at intake (`intake.accept`), and PostgreSQL tries to compress
any value over 2 kB. pglz gave up on most of the benchmark's mail (base64 attachments)
after spending the effort: 0.20 ms of server CPU a mail, against 0.07 ms with lz4, which
compressed more of them and stored a little less (bench/README.md, "PostgreSQL per mail").
Only values written from now on use it: rows already stored are not rewritten, and reading
them needs nothing. A server built without lz4 keeps pglz (the statement is skipped).
"""

from django.db import migrations

_WHEN_SUPPORTED = """
DO $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM pg_settings
        WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)
    ) THEN
        ALTER TABLE {table} ALTER COLUMN raw SET COMPRESSION {method};
    END IF;
END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("tickets", "0033_email_templates_follow_built_in")]

    operations = [
        migrations.RunSQL(
            sql=_WHEN_SUPPORTED.format(table="tickets_inboundemail", method="lz4"),
            reverse_sql=_WHEN_SUPPORTED.format(table="tickets_inboundemail", method="pglz"),
        ),
        migrations.RunSQL(
            sql=_WHEN_SUPPORTED.format(table="tickets_unroutedemail", method="lz4"),
            reverse_sql=_WHEN_SUPPORTED.format(table="tickets_unroutedemail", method="pglz"),
        ),
    ]
