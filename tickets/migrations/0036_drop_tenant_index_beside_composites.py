"""The tenant column's own index goes where another index already leads with the tenant
(memberships: (tenant, user) and (tenant, id); API tokens: (tenant, user); search
documents: (tenant, indexed_at)): it served nothing those do not, and cost every write.
Each DROP INDEX holds its table's lock for a moment, with no scan."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tenancy", "0014_drop_tenant_index_beside_composites"),
        ("tickets", "0035_tenant_index_only_in_tenant_id_pair"),
    ]

    operations = [
        migrations.AlterField(
            model_name="ticketsearch",
            name="tenant",
            field=models.ForeignKey(
                db_index=False,
                editable=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="tenancy.tenant",
            ),
        ),
    ]
