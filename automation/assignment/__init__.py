"""Automatic assignment per department: round-robin or load-balanced, a cap on unsolved
tickets per agent, eligibility by seat, role, shift and availability, the department's
backlog of tickets nobody could take, and tickets handed back when an agent leaves the
department or goes offline.

Correct under concurrency by one rule: whatever hands out a department's tickets holds
that department's row lock (`SELECT … FOR NO KEY UPDATE`, which new tickets' foreign-key
checks do not wait for) from reading the agents' load to the commit, so workers serialise
per department only. Tickets are taken with `FOR NO KEY UPDATE SKIP LOCKED` once the
department is locked, never waited for (a transaction that holds a ticket and waits for the
department, such as the ticket-event pipeline, cannot deadlock with one that holds the
department); handing back waits for its tickets before it locks the department.
"""
