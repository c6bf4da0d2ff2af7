"""collect_on_commit: a transaction's items handed over once, after its commit; remembered:
a question asked once per inbound batch."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from helpdesk.core import batching
from helpdesk.core.batching import collect_on_commit, is_collecting

pytestmark = pytest.mark.django_db(transaction=True)


class Sink:
    def __init__(self) -> None:
        self.calls: list[list[Any]] = []

    def __call__(self, items: list[Any]) -> None:
        self.calls.append(list(items))


def _rolled_back(key: str, item: Any, sink: Sink) -> None:
    """Collect `item` in a transaction (or savepoint) that then rolls back."""
    with transaction.atomic():
        collect_on_commit(key, item, sink)
        raise RuntimeError


def test_items_of_one_transaction_arrive_once_in_order_after_the_commit() -> None:
    sink = Sink()
    with transaction.atomic():
        for item in ("a", "b", "c"):
            collect_on_commit("key", item, sink)
        assert sink.calls == []
    assert sink.calls == [["a", "b", "c"]]


def test_each_key_is_its_own_batch_and_each_transaction_too() -> None:
    first, second = Sink(), Sink()
    with transaction.atomic():
        collect_on_commit("one", 1, first)
        collect_on_commit("two", 2, second)
        collect_on_commit("one", 3, first)
    with transaction.atomic():
        collect_on_commit("one", 4, first)
    assert first.calls == [[1, 3], [4]]
    assert second.calls == [[2]]


def test_outside_a_transaction_the_item_goes_at_once() -> None:
    sink = Sink()
    collect_on_commit("key", "now", sink)
    assert sink.calls == [["now"]]


def test_a_rolled_back_transaction_hands_over_nothing_and_leaves_no_stale_batch() -> None:
    sink = Sink()
    with pytest.raises(RuntimeError):
        _rolled_back("key", "lost", sink)
    with transaction.atomic():
        collect_on_commit("key", "kept", sink)
    assert sink.calls == [["kept"]]


def test_a_savepoint_rolled_back_drops_its_batch_and_later_items_start_another() -> None:
    sink = Sink()
    with transaction.atomic():
        with pytest.raises(RuntimeError):
            _rolled_back("key", "inside", sink)
        collect_on_commit("key", "after", sink)
    assert sink.calls == [["after"]]


def test_items_after_a_released_savepoint_join_the_batch_it_began() -> None:
    sink = Sink()
    with transaction.atomic():
        with transaction.atomic():
            collect_on_commit("key", "inside", sink)
        collect_on_commit("key", "after", sink)
    assert sink.calls == [["inside", "after"]]


def test_is_collecting_tells_whether_this_transaction_began_the_batch() -> None:
    sink = Sink()
    with transaction.atomic():
        assert not is_collecting("key")
        collect_on_commit("key", 1, sink)
        assert is_collecting("key")
        assert not is_collecting("other")
    assert not is_collecting("key")


def test_remembered_asks_once_inside_a_batch_and_every_time_outside() -> None:
    asked: list[str] = []

    def ask() -> str:
        asked.append("asked")
        return "answer"

    assert batching.remembered("question", ask) == "answer"
    assert batching.remembered("question", ask) == "answer"
    assert len(asked) == 2  # no batch: every time
    with batching.answers_remembered():
        assert batching.remembered("question", ask) == "answer"
        assert batching.remembered("question", ask) == "answer"
        assert batching.remembered("other", lambda: "another") == "another"
    assert len(asked) == 3
    assert batching.remembered("question", ask) == "answer"
    assert len(asked) == 4  # the batch's answers are gone with it
