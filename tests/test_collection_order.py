"""The suite's order for xdist (tests/conftest.py): each process's run of the collection
starts with its share of the long tests; without xdist the order stays as collected."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import pytest

from tests.conftest import pytest_collection_modifyitems


@dataclass
class FakeItem:
    name: str
    markers: tuple[str, ...] = ()

    def get_closest_marker(self, name: str) -> object | None:
        return name if name in self.markers else None


@dataclass
class FakeConfig:
    workerinput: dict[str, Any] = field(default_factory=dict)


def _order(workers: int | None, items: list[FakeItem]) -> list[str]:
    config = FakeConfig({"workercount": workers} if workers else {})
    collected = cast(list[pytest.Item], list(items))
    pytest_collection_modifyitems(cast(pytest.Config, config), collected)
    return [cast(FakeItem, item).name for item in collected]


def _suite() -> list[FakeItem]:
    items = [FakeItem(f"short{n}") for n in range(12)]
    items.insert(3, FakeItem("browser1", ("browser",)))
    items.insert(9, FakeItem("worker1", ("worker",)))
    items += [FakeItem("slow1", ("slow",)), FakeItem("browser2", ("browser",))]
    return items


def test_each_process_run_starts_with_its_share_of_long_tests() -> None:
    order = _order(2, _suite())
    assert len(order) == 16
    assert set(order) == {item.name for item in _suite()}
    first, second = order[:8], order[8:]  # what xdist hands each of two processes
    assert first[:2] == ["browser1", "slow1"]
    assert second[:2] == ["worker1", "browser2"]
    assert [n for n in order if n.startswith("short")] == [f"short{n}" for n in range(12)]


def test_without_xdist_the_order_is_as_collected() -> None:
    assert _order(None, _suite()) == [item.name for item in _suite()]
