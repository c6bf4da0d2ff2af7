"""An article translation's search document, kept like the article's (migration 0007).

- `knowledge_base_articletranslation.search_document`: the translation's title (weight A)
  and body (weight B) as a tsvector in the translation's own language (not the tenant's:
  a German translation of an English tenant's article is stemmed as German). A trigger
  keeps it: computed on insert, again when the title, body or language changes, and
  whenever it is set to NULL (a rebuild). The ORM does not know the column.
- A GIN index on the documents (the help center searches one language at a time).
- The view `knowledge_base_translation_public_search`: the current tenant's translations
  of published public articles, with the article's id, owned by the ops role like the
  article view, so the planner may use the index under row-level security.

A later migration that changes a column the view reads must drop the view first and
create it again.
"""

from django.conf import settings
from django.db import migrations

VIEW = "knowledge_base_translation_public_search"

FUNCTION = """
CREATE FUNCTION knowledge_base_translation_search_document() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    config regconfig;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.search_document IS NOT NULL
            AND NEW.title IS NOT DISTINCT FROM OLD.title
            AND NEW.body IS NOT DISTINCT FROM OLD.body
            AND NEW.language IS NOT DISTINCT FROM OLD.language THEN
        RETURN NEW;
    END IF;
    config := knowledge_base_search_config(NEW.language);
    NEW.search_document :=
        setweight(to_tsvector(config, coalesce(NEW.title, '')), 'A')
        || setweight(to_tsvector(config, coalesce(NEW.body, '')), 'B');
    RETURN NEW;
END
$$;
"""

FORWARD = f"""
ALTER TABLE knowledge_base_articletranslation ADD COLUMN search_document tsvector;

CREATE TRIGGER knowledge_base_translation_search_document
    BEFORE INSERT OR UPDATE ON knowledge_base_articletranslation
    FOR EACH ROW EXECUTE FUNCTION knowledge_base_translation_search_document();

-- A language's translations matching the words, straight from the index.
CREATE INDEX kb_translation_search_idx ON knowledge_base_articletranslation
    USING gin (search_document);

CREATE VIEW "{VIEW}" AS
    SELECT t.article_id AS id, t.language, t.title, t.search_document AS document,
           greatest(t.updated_at, a.updated_at) AS updated_at
    FROM knowledge_base_articletranslation t
    JOIN knowledge_base_article a ON a.id = t.article_id AND a.tenant_id = t.tenant_id
    WHERE t.tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
      AND a.status = 'published' AND a.visibility = 'public';
"""

BACKWARD = f"""
DROP VIEW IF EXISTS "{VIEW}";
DROP TRIGGER IF EXISTS knowledge_base_translation_search_document
    ON knowledge_base_articletranslation;
DROP FUNCTION IF EXISTS knowledge_base_translation_search_document();
DROP INDEX IF EXISTS kb_translation_search_idx;
ALTER TABLE knowledge_base_articletranslation DROP COLUMN IF EXISTS search_document;
"""


def create_search_view(apps, schema_editor):
    app, ops = settings.HELPDESK_DB_ROLES["app"], settings.HELPDESK_DB_ROLES["ops"]
    schema_editor.execute(FUNCTION)
    schema_editor.execute(FORWARD)
    schema_editor.execute(f'GRANT SELECT ON knowledge_base_articletranslation TO "{ops}"')
    schema_editor.execute(f'GRANT CREATE ON SCHEMA public TO "{ops}"')
    schema_editor.execute(f'ALTER VIEW "{VIEW}" OWNER TO "{ops}"')
    schema_editor.execute(f'REVOKE CREATE ON SCHEMA public FROM "{ops}"')
    schema_editor.execute(f'REVOKE ALL ON "{VIEW}" FROM PUBLIC')
    schema_editor.execute(f'GRANT SELECT ON "{VIEW}" TO "{app}"')


def fill_documents(apps, schema_editor):
    """Every existing translation's document, tenant by tenant under the forced policy."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT id FROM tenancy_tenant")
        for (tenant_id,) in cursor.fetchall():
            cursor.execute("SELECT set_config('app.tenant_id', %s, true)", [str(tenant_id)])
            cursor.execute(
                "UPDATE knowledge_base_articletranslation SET search_document = NULL"
                " WHERE search_document IS NULL"
            )
        cursor.execute("SELECT set_config('app.tenant_id', '', true)")


def drop_search_view(apps, schema_editor):
    schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [
        ("knowledge_base", "0007_public_article_search"),
    ]

    operations = [
        migrations.RunPython(create_search_view, drop_search_view),
        migrations.RunPython(fill_documents, migrations.RunPython.noop),
    ]
