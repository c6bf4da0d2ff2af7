"""What team changes tell the apps above (which may not be imported from here)."""

from django.dispatch import Signal

# A member can no longer be given tickets (deactivated, or now a light agent): kwargs
# tenant_id, membership_id. The tickets app hands their unsolved tickets back to the queue.
member_unassignable = Signal()

# A member's availability moved (online, away, offline), by them, an admin or the clock:
# kwargs tenant_id, membership_id, availability, previous. Routing hands out the backlog to
# someone now online, and takes tickets back from someone now offline where a department
# says so.
availability_changed = Signal()
