"""Articles whose slug is a path of the customer portal (/help/sign-in/, /help/sign-out/,
/help/requests/, /help/my-data/: the portal's pages answer there, so the article could not
be opened or voted on) get the next free slug, as a new article with that title would now
(knowledge_base.services.RESERVED_SLUGS). The old slug is kept as a former one, so agents'
links to /kb/<old>/ still lead to the article.

Reversing leaves the new slugs: the old ones never worked on the help center.
"""

from django.db import migrations

# The slugs the portal took (a copy: migrations do not import live code).
PORTAL_PATHS = ("sign-in", "sign-out", "requests", "my-data")


def _free_slug(Article, ArticleSlug, tenant_id, base):
    n = 2
    while (
        Article.objects.filter(tenant_id=tenant_id, slug=f"{base}-{n}").exists()
        or ArticleSlug.objects.filter(tenant_id=tenant_id, slug=f"{base}-{n}").exists()
    ):
        n += 1
    return f"{base}-{n}"


def rename_articles_on_portal_paths(apps, schema_editor):
    """Row-level security stays forced: the rows are reached tenant by tenant."""
    Article = apps.get_model("knowledge_base", "Article")
    ArticleSlug = apps.get_model("knowledge_base", "ArticleSlug")
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT id FROM tenancy_tenant")
        for (tenant_id,) in cursor.fetchall():
            cursor.execute("SELECT set_config('app.tenant_id', %s, true)", [str(tenant_id)])
            moving = Article.objects.filter(tenant_id=tenant_id, slug__in=PORTAL_PATHS)
            for article in moving.order_by("created_at"):
                old = article.slug
                article.slug = _free_slug(Article, ArticleSlug, tenant_id, old)
                article.save(update_fields=["slug"])
                ArticleSlug.objects.get_or_create(
                    tenant_id=tenant_id, slug=old, defaults={"article": article}
                )
        cursor.execute("SELECT set_config('app.tenant_id', '', true)")


class Migration(migrations.Migration):
    dependencies = [
        ("knowledge_base", "0010_tenant_index_only_in_tenant_id_pair"),
    ]

    operations = [
        migrations.RunPython(rename_articles_on_portal_paths, migrations.RunPython.noop),
    ]
