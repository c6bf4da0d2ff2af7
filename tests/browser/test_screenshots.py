"""Screenshots are taken for `make screenshots` only: with HELPDESK_SCREENSHOTS set, a
page's picture is written where it belongs; without it, nothing is taken."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser import conftest


class FakePage:
    """What save_screenshot asks of a page, recorded."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def evaluate(self, script: str) -> None:
        self.calls.append(("evaluate", script))

    def screenshot(self, *, path: str, full_page: bool) -> None:
        self.calls.append(("screenshot", (Path(path).name, full_page)))
        Path(path).write_bytes(b"png")


@pytest.fixture
def folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    kept, loose = tmp_path / "docs", tmp_path / "loose"
    monkeypatch.setattr(conftest, "SCREENSHOTS", kept)
    monkeypatch.setattr(conftest, "LOOSE_SCREENSHOTS", loose)
    return kept, loose


def test_no_picture_without_the_variable(
    folders: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HELPDESK_SCREENSHOTS", raising=False)
    page = FakePage()
    conftest.save_screenshot(page, "inbox.png")  # type: ignore[arg-type]
    assert page.calls == []
    assert not folders[0].exists()


def test_pictures_go_where_they_belong_with_the_variable(
    folders: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HELPDESK_SCREENSHOTS", "1")
    page = FakePage()
    conftest.save_screenshot(page, "inbox.png")  # type: ignore[arg-type]
    conftest.save_screenshot(page, "rules.png", full_page=True, keep=False)  # type: ignore[arg-type]
    conftest.save_screenshot(page, "heat-map.png", from_top=False)  # type: ignore[arg-type]
    assert page.calls == [
        ("evaluate", "window.scrollTo(0, 0)"),
        ("screenshot", ("inbox.png", False)),
        ("screenshot", ("rules.png", True)),
        ("screenshot", ("heat-map.png", False)),
    ]
    assert sorted(path.name for path in folders[0].iterdir()) == ["heat-map.png", "inbox.png"]
    assert [path.name for path in folders[1].iterdir()] == ["rules.png"]
