"""The SLA read model: what the ticket's `sla_*` columns mean (see `selectors`).

Not a feature with pages of its own: the inbox, the ticket page, the API and automation's
SLA panel all read the SLA state through `tickets.sla.selectors`, and automation, the only
writer of those columns (through `tickets.ticket.services.set_sla_state`), measures its
clocks from the same module's timeline. It depends on no ticket feature.
"""
