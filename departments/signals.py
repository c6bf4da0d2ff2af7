"""What departments tell higher apps (receivers only enqueue tasks; see CONTRIBUTING.md)."""

from django.dispatch import Signal

# A schedule's periods, time zone or holidays changed (or it was deleted): the SLA due
# times counted on it are out of date. Sent with `tenant_id` and `business_hours_id`.
business_hours_changed = Signal()

# Agents left a department's seats (kwargs tenant_id, department_id, membership_ids): their
# unsolved tickets there go back to the department's backlog.
members_left_department = Signal()

# A department's assignment settings changed or agents were seated in it (kwargs tenant_id,
# department_id): its backlog may have takers now.
department_assignment_changed = Signal()
