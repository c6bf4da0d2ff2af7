"""Check the rows that existed before 0002 against its membership keys.

A migration of its own: VALIDATE CONSTRAINT takes a lock that lets reads and writes go on,
and any row naming another tenant's member stops it with the key in the error.
"""

import helpdesk.tenancy.rls
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('knowledge_base', '0002_membership_tenant_fk'),
    ]

    operations = [
        helpdesk.tenancy.rls.ValidateTenantFK(model_name='article', name='knowledge_base_article_author_tenant_fk'),
    ]
