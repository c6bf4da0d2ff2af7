"""Responses finished after the request's tenant transaction: for a view that waits on a
remote peer (a contact app's CRM, an integration's "Send test") for seconds, which must not
hold its database connection inside an open transaction (with its snapshot and row locks)
while it waits.

The view reads what it needs inside the request's tenant transaction as usual, into plain
values, and returns `FinishedAfterTransaction(finish)`. TenantMiddleware commits (or rolls
back) the transaction and leaves the tenant context, then calls `finish()`, which returns
the body and the status. `finish` runs with no tenant set: the scoped managers raise
NoTenantError there and row-level security shows no rows, so it cannot read tenant data
(nor another tenant's); it may use the cache and the network. The middlewares inside
TenantMiddleware see the response before it has a body; the ones outside see it finished.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpResponse
from django.utils import timezone


class FinishedAfterTransaction(HttpResponse):
    """An HTML response whose body `finish()` makes once the tenant transaction is over."""

    def __init__(self, finish: Callable[[], tuple[str, int]], **kwargs: Any) -> None:
        super().__init__(b"", **kwargs)
        self._make_body = finish
        # The agent's time zone is set by a middleware inside TenantMiddleware and is
        # gone by the time the body is made.
        self._timezone = timezone.get_current_timezone()

    def finish(self) -> None:
        """Make the body (once). Called by TenantMiddleware outside any transaction."""
        make_body, self._make_body = self._make_body, _finished
        with timezone.override(self._timezone):
            body, status = make_body()
        self.content = body
        self.status_code = status


def _finished() -> tuple[str, int]:
    raise RuntimeError("this response's body was already made")
