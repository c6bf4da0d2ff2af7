# Automatic assignment (automation.assignment) reads two things per department under its
# lock: the backlog (unassigned unsolved tickets, most urgent then oldest first) and how
# many unsolved tickets each agent holds there (the cap, load balancing). Partial indexes,
# so neither walks the department's solved and closed history.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("departments", "0009_shifts_and_assignment_settings"),
        ("tenancy", "0004_membership_availability"),
        ("tickets", "0024_message_legacy_in_flight_idx"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="ticket",
            index=models.Index(
                condition=models.Q(
                    ("assignee__isnull", True), ("is_spam", False), ("is_unsolved", True)
                ),
                fields=["tenant", "department", "-priority_rank", "created_at", "id"],
                name="tickets_ticket_backlog_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="ticket",
            index=models.Index(
                condition=models.Q(("is_unsolved", True)),
                fields=["tenant", "department", "assignee"],
                name="tickets_ticket_dept_load_idx",
            ),
        ),
    ]
