"""What team changes tell the apps above (which may not be imported from here)."""

from django.dispatch import Signal

# A member can no longer be given tickets (deactivated, or now a light agent): kwargs
# tenant_id, membership_id. The tickets app hands their unsolved tickets back to the queue.
member_unassignable = Signal()
