"""Races between two transactions, made to happen: the first does its write and holds its
transaction open; the second starts, must block on that write, and goes on once the first
commits. For tests marked django_db(transaction=True) (each thread has its connection)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from celery import _state as celery_state
from django.db import connections

from helpdesk.tenancy.context import tenant_context


def second_behind_first(
    tenant_id: Any, first: Callable[[], Any], second: Callable[[], Any]
) -> tuple[Any, Any]:
    """Run `first` in `tenant_id`'s transaction and keep it open; run `second` (in its own
    thread, its own transaction); check it waits; commit the first. Returns both results;
    an exception the second raised is its result."""
    first_done, commit_first, results = threading.Event(), threading.Event(), {}

    def hold() -> None:
        try:
            with tenant_context(tenant_id):
                results["first"] = first()
                first_done.set()
                commit_first.wait(10)
        finally:
            connections.close_all()

    def follow() -> None:
        try:
            results["second"] = second()
        except Exception as error:  # the caller's assertions report it
            results["second"] = error
        finally:
            connections.close_all()

    one = threading.Thread(target=hold)
    one.start()
    assert first_done.wait(10)
    two = threading.Thread(target=follow)
    two.start()
    two.join(1.0)  # blocked on the first one's uncommitted row
    assert two.is_alive()
    commit_first.set()
    one.join(10)
    two.join(10)
    # Both threads may run eager tasks after their commits at once. Celery keeps "inside a
    # task" in one process-wide flag, saved and put back around each eager task: two at
    # once can leave it set, and every later `.apply().get()` in this process would fail.
    celery_state._set_task_join_will_block(False)  # type: ignore[attr-defined]  # not in the stubs
    return results["first"], results["second"]
