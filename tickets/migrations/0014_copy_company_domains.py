"""Copy every company's domains into CompanyDomain rows (0013).

A migration of its own: 0013's foreign keys are added when its transaction's schema work
ends, and validating them then, with row-level security forced again, would not see the
rows copied here. The services kept each domain to one company and lowercase already.
"""

from django.db import migrations


def copy_domains(apps, schema_editor):
    """RLS is forced even for the owner: lifted for this one insert (as in departments 0003).
    Foreign keys are checked at once, while it is lifted, not at the commit."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE tickets_company NO FORCE ROW LEVEL SECURITY")
        cursor.execute("ALTER TABLE tickets_companydomain NO FORCE ROW LEVEL SECURITY")
        cursor.execute(
            "INSERT INTO tickets_companydomain (id, tenant_id, company_id, domain, created_at, updated_at)"
            " SELECT gen_random_uuid(), c.tenant_id, c.id, d.domain, now(), now()"
            " FROM tickets_company c CROSS JOIN LATERAL jsonb_array_elements_text(c.domains) AS d(domain)"
            " WHERE jsonb_typeof(c.domains) = 'array'"
            " ON CONFLICT (tenant_id, domain) DO NOTHING"
        )
        cursor.execute("ALTER TABLE tickets_companydomain FORCE ROW LEVEL SECURITY")
        cursor.execute("ALTER TABLE tickets_company FORCE ROW LEVEL SECURITY")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


class Migration(migrations.Migration):

    dependencies = [
        ('tickets', '0013_company_domain_rows'),
    ]

    operations = [
        migrations.RunPython(copy_domains, migrations.RunPython.noop),
    ]
