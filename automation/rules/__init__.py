"""Workflow rules: on "ticket created", "ticket updated" or "SLA target missed", when all
(or any) of a rule's conditions hold, do its actions.

- `vocabulary`: the conditions and actions a rule may use, their validation (each error
  names the condition or action) and their wording on the admin page.
- `selectors`: rules as stored; the tenant's active rules of a trigger, cached.
- `engine`: `run_rules(trigger=..., ticket_ids=...)` for a batch of tickets, and the plan a
  dry run shows.
- `services`: create, change, delete, reorder, enable and disable rules (admins), the dry run.
- `api`, `views`: `/api/v1/rules/…` and the admin page `/settings/rules/`.
"""
