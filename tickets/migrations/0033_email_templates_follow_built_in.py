"""Email template fields still holding the built-in English wording become empty, so they
follow the built-in wording, which is now sent in the tenant's language (a German tenant
whose admin once saved a template unchanged would otherwise keep sending English).

A department's field is emptied only where the tenant has no wording of its own for it:
an empty department field inherits the tenant's, and must still send the same text.

Reversing does nothing: under the code before this migration an empty field sent the
built-in English wording, the same text the field held, so every email stays the same.
"""

from django.db import migrations

# The built-in wording as of this migration (a copy: migrations do not import models).
BUILT_IN = {
    ("layout", "footer"): (
        "{{ tenant.name }} · Request #{{ ticket.number }}\nReply to this email to answer."
    ),
    ("acknowledgement", "subject"): "Re: {{ ticket.subject }} [#{{ ticket.number }}]",
    ("acknowledgement", "body"): """Hello {{ contact.first_name }},

thank you for writing to {{ tenant.name }}. We received your message and opened
request #{{ ticket.number }}; an agent will get back to you soon.

You can follow it here: {{ ticket.tracking_link }}
Reply to this email to add anything to the request.
""",
    ("status_waiting", "subject"): "We are waiting for your answer [#{{ ticket.number }}]",
    ("status_waiting", "body"): (
        "Hello {{ contact.first_name }},\n\nwe need a little more information to go "
        "on with request #{{ ticket.number }} ({{ ticket.subject }}). Please reply "
        "to this email."
    ),
    ("status_solved", "subject"): "Your request is solved [#{{ ticket.number }}]",
    ("status_solved", "body"): (
        "Hello {{ contact.first_name }},\n\nwe marked request #{{ ticket.number }} "
        "({{ ticket.subject }}) as solved. If something is still not right, just "
        "reply and it opens again."
    ),
    ("satisfaction_request", "subject"): "How did we do? [#{{ ticket.number }}]",
    ("satisfaction_request", "body"): (
        "Hello {{ contact.first_name }},\n\nhow satisfied are you with our help on "
        "request #{{ ticket.number }} ({{ ticket.subject }})? One click tells us:\n\n"
        "Good, I'm satisfied: {{ satisfaction.good_link }}\n"
        "Okay, it was all right: {{ satisfaction.okay_link }}\n"
        "Bad, I'm unsatisfied: {{ satisfaction.bad_link }}\n\n"
        "You can add a comment on that page, and change your rating later through the "
        "same link."
    ),
}
# Line endings made plain and surrounding whitespace trimmed, as a browser may post them.
PLAIN = "btrim(replace({column}, chr(13), ''), E' \\t\\n')"


def _statements():
    """The tenant's own rows first, then the departments' (which read the tenant's row as
    it is after the first statements)."""
    tenant_rows, department_rows = [], []
    for (kind, column), text in BUILT_IN.items():
        match = f"kind = %s AND {PLAIN.format(column=column)} = %s"
        tenant_rows.append(
            (
                # Column names from BUILT_IN above; the values are parameters.
                f"UPDATE tickets_emailtemplate SET {column} = ''"  # noqa: S608
                f" WHERE department_id IS NULL AND {match}",
                [kind, text.strip()],
            )
        )
        department_rows.append(
            (
                f"UPDATE tickets_emailtemplate AS own SET {column} = ''"  # noqa: S608
                f" WHERE own.department_id IS NOT NULL AND {match}"
                " AND NOT EXISTS (SELECT 1 FROM tickets_emailtemplate AS tenant_wide"
                " WHERE tenant_wide.tenant_id = own.tenant_id AND tenant_wide.kind = own.kind"
                f" AND tenant_wide.department_id IS NULL AND tenant_wide.{column} <> '')",
                [kind, text.strip()],
            )
        )
    return [*tenant_rows, *department_rows]


def follow_the_built_in_wording(apps, schema_editor):
    """Row-level security stays forced: the rows are reached tenant by tenant."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT id FROM tenancy_tenant")
        for (tenant_id,) in cursor.fetchall():
            cursor.execute("SELECT set_config('app.tenant_id', %s, true)", [str(tenant_id)])
            for sql, params in _statements():
                cursor.execute(sql, params)
        cursor.execute("SELECT set_config('app.tenant_id', '', true)")


class Migration(migrations.Migration):
    dependencies = [
        ("tickets", "0032_satisfaction_okay"),
    ]

    operations = [
        migrations.RunPython(follow_the_built_in_wording, migrations.RunPython.noop),
    ]
