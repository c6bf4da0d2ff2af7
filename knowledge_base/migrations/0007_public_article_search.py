"""The help center's search reads stored documents through a view, so that the full-text
index serves it under row-level security (as tickets' search does, tickets 0021).

Before this, every search computed the text-search vector of every public article
(about 1.1 s for 800 articles of 3 kB): PostgreSQL uses no index for `@@` on a table under
row-level security (the operator is not LEAKPROOF), so an expression index would not have
helped either.

- `knowledge_base_article.search_document`: the title (weight A) and body (weight B) as a
  tsvector in the tenant's language. A trigger keeps it: computed on insert, again when
  the title or body changes, and whenever it is set to NULL (how a rebuild is asked for,
  for instance after the tenant's language changed). The ORM does not know the column:
  no page loads it, and no code path (services, bulk inserts, fixtures) can forget it.
- GIN indexes, partial to the published public articles: the documents, and the titles'
  trigrams when pg_trgm is installed (the embedded PostgreSQL has no contrib extensions).
- The view `knowledge_base_article_public_search`: the current tenant's published public
  articles only (the policy's predicate on `app.tenant_id`, nothing without it), owned by
  the ops role, which has BYPASSRLS, so the policy is not applied a second time inside it
  and the planner may use the indexes. helpdesk_app may only read it.

A later migration that changes a column the view reads (tenant_id, status, visibility,
title, updated_at) must drop the view first and create it again.
"""

from django.conf import settings
from django.db import migrations

VIEW = "knowledge_base_article_public_search"

# Must give the same configuration as knowledge_base.public.search_config (a test checks).
FUNCTION = """
CREATE FUNCTION knowledge_base_search_config(language text) RETURNS regconfig
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (CASE split_part(lower(coalesce(language, '')), '-', 1)
        WHEN 'de' THEN 'german'
        WHEN 'en' THEN 'english'
        WHEN 'fr' THEN 'french'
        WHEN 'es' THEN 'spanish'
        ELSE 'simple'
    END)::regconfig
$$;

CREATE FUNCTION knowledge_base_article_search_document() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    config regconfig;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.search_document IS NOT NULL
            AND NEW.title IS NOT DISTINCT FROM OLD.title
            AND NEW.body IS NOT DISTINCT FROM OLD.body THEN
        RETURN NEW;
    END IF;
    SELECT knowledge_base_search_config(t.language) INTO config
    FROM tenancy_tenant t WHERE t.id = NEW.tenant_id;
    config := coalesce(config, 'simple'::regconfig);
    NEW.search_document :=
        setweight(to_tsvector(config, coalesce(NEW.title, '')), 'A')
        || setweight(to_tsvector(config, coalesce(NEW.body, '')), 'B');
    RETURN NEW;
END
$$;
"""

FORWARD = f"""
ALTER TABLE knowledge_base_article ADD COLUMN search_document tsvector;

CREATE TRIGGER knowledge_base_article_search_document
    BEFORE INSERT OR UPDATE ON knowledge_base_article
    FOR EACH ROW EXECUTE FUNCTION knowledge_base_article_search_document();

-- Rare words: the matching documents straight from the index.
CREATE INDEX kb_article_public_search_idx ON knowledge_base_article
    USING gin (search_document)
    WHERE status = 'published' AND visibility = 'public';

DO $$
BEGIN
    -- A title a word away from the query (a typo), through the trigram index.
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        CREATE INDEX kb_article_public_title_trgm_idx ON knowledge_base_article
            USING gin (title gin_trgm_ops)
            WHERE status = 'published' AND visibility = 'public';
    END IF;
END
$$;

CREATE VIEW "{VIEW}" AS
    SELECT id, title, search_document AS document, updated_at
    FROM knowledge_base_article
    WHERE tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
      AND status = 'published' AND visibility = 'public';
"""

BACKWARD = f"""
DROP VIEW IF EXISTS "{VIEW}";
DROP TRIGGER IF EXISTS knowledge_base_article_search_document ON knowledge_base_article;
DROP FUNCTION IF EXISTS knowledge_base_article_search_document();
DROP FUNCTION IF EXISTS knowledge_base_search_config(text);
DROP INDEX IF EXISTS kb_article_public_title_trgm_idx;
DROP INDEX IF EXISTS kb_article_public_search_idx;
ALTER TABLE knowledge_base_article DROP COLUMN IF EXISTS search_document;
"""


def create_search_view(apps, schema_editor):
    app, ops = settings.HELPDESK_DB_ROLES["app"], settings.HELPDESK_DB_ROLES["ops"]
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT pg_has_role(current_user, %s, 'MEMBER')", [ops])
        if not cursor.fetchone()[0]:
            raise RuntimeError(
                f"the migrating role must be a member of {ops}: run `manage.py setup_database`"
                " (it grants that) and migrate again"
            )
    schema_editor.execute(FUNCTION)
    schema_editor.execute(FORWARD)
    schema_editor.execute(f'GRANT SELECT ON knowledge_base_article TO "{ops}"')
    schema_editor.execute(f'GRANT CREATE ON SCHEMA public TO "{ops}"')
    schema_editor.execute(f'ALTER VIEW "{VIEW}" OWNER TO "{ops}"')
    schema_editor.execute(f'REVOKE CREATE ON SCHEMA public FROM "{ops}"')
    schema_editor.execute(f'REVOKE ALL ON "{VIEW}" FROM PUBLIC')
    schema_editor.execute(f'GRANT SELECT ON "{VIEW}" TO "{app}"')


def fill_documents(apps, schema_editor):
    """Every existing article's document, tenant by tenant under the forced policy (the
    trigger computes it when the column is set to NULL)."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT id FROM tenancy_tenant")
        for (tenant_id,) in cursor.fetchall():
            cursor.execute("SELECT set_config('app.tenant_id', %s, true)", [str(tenant_id)])
            cursor.execute(
                "UPDATE knowledge_base_article SET search_document = NULL"
                " WHERE search_document IS NULL"
            )
        cursor.execute("SELECT set_config('app.tenant_id', '', true)")


def drop_search_view(apps, schema_editor):
    schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [
        ("knowledge_base", "0006_article_translation"),
    ]

    operations = [
        migrations.RunPython(create_search_view, drop_search_view),
        migrations.RunPython(fill_documents, migrations.RunPython.noop),
    ]
