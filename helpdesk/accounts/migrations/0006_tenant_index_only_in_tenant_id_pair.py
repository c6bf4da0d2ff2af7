"""The tenant column's own index goes (TenantModel's foreign key has db_index=False): the
(tenant, id) unique index every tenant-owned table has leads with the tenant and serves every
lookup by it (RLS filters, the check when a tenant is deleted), so the second index only
cost writes and space. Each DROP INDEX holds its table's lock for a moment, with no scan."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_sso_provider"),
        ("tenancy", "0013_tenant_index_only_in_tenant_id_pair"),
    ]

    operations = [
        migrations.AlterField(
            model_name="invitation",
            name="tenant",
            field=models.ForeignKey(
                db_index=False,
                editable=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="tenancy.tenant",
            ),
        ),
        migrations.AlterField(
            model_name="ssoprovider",
            name="tenant",
            field=models.ForeignKey(
                db_index=False,
                editable=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="tenancy.tenant",
            ),
        ),
    ]
