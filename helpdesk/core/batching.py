"""Collect what a transaction produces and hand it over once, when it commits.

Inbound mail creates many tickets in one transaction; each creation reports itself, and
the work that follows (rules, assignment) is cheaper done once for the whole batch than
once per ticket. `collect_on_commit` gathers the items under a key and calls `flush` with
all of them after the commit, in the order they came; a rolled-back transaction (or
savepoint) drops its items with its rows, as `transaction.on_commit` does.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Hashable, Iterator
from typing import Any

from django.db import transaction

_local = threading.local()


class _Batch:
    def __init__(self, key: Hashable, flush: Callable[[list[Any]], None]) -> None:
        self.key = key
        self.flush = flush
        self.items: list[Any] = []

    def run(self) -> None:
        batches = _batches()
        if batches.get(self.key) is self:
            del batches[self.key]
        self.flush(self.items)

    def is_pending_on(self, connection: Any) -> bool:
        """Still waiting for this transaction's commit? (A savepoint rollback discards the
        callback of a batch begun inside it: then a new batch begins.)"""
        return any(
            getattr(callback, "__self__", None) is self
            for _, callback, _ in connection.run_on_commit
        )


def _batches() -> dict[Hashable, _Batch]:
    batches: dict[Hashable, _Batch] | None = getattr(_local, "batches", None)
    if batches is None:
        batches = _local.batches = {}
    return batches


def is_collecting(key: Hashable, using: str | None = None) -> bool:
    """Has the current transaction begun the batch `key`? (Lets a caller check once per
    batch whether to collect at all.)"""
    batch = _batches().get(key)
    return batch is not None and batch.is_pending_on(transaction.get_connection(using))


def collect_on_commit(
    key: Hashable, item: Any, flush: Callable[[list[Any]], None], using: str | None = None
) -> None:
    """Add `item` to the batch `key` of the current transaction; `flush(items)` runs once
    after the commit. Outside a transaction it runs at once with this item alone."""
    connection = transaction.get_connection(using)
    if not connection.in_atomic_block:
        flush([item])
        return
    batches = _batches()
    batch = batches.get(key)
    if batch is None or not batch.is_pending_on(connection):
        batch = batches[key] = _Batch(key, flush)
        transaction.on_commit(batch.run, using=using)
    batch.items.append(item)


@contextlib.contextmanager
def answers_remembered() -> Iterator[None]:
    """Inside this block (an inbound batch), `remembered` asks each question once."""
    previous = getattr(_local, "answers", None)
    _local.answers = {}
    try:
        yield
    finally:
        _local.answers = previous


def is_remembering() -> bool:
    """Inside an `answers_remembered` block (an inbound batch)? Work that follows a change
    may then be coalesced across batches (the report rollups' refresh)."""
    return getattr(_local, "answers", None) is not None


def remembered(key: Hashable, compute: Callable[[], Any]) -> Any:
    """`compute()`, asked once per `answers_remembered` block under `key`; asked every time
    outside one. For what each change of a batch would ask again, such as whether the
    tenant has any SLA policy or active rule at all: a hundred tickets, one cached read.
    Only a block that changes no configuration (a batch of inbound mail) opens one."""
    answers: dict[Hashable, Any] | None = getattr(_local, "answers", None)
    if answers is None:
        return compute()
    if key not in answers:
        answers[key] = compute()
    return answers[key]
