"""The committed translations: every .mo under locale/ is what its .po compiles to (the
build does not run gettext, so a .po edited without `compilemessages` would be ignored)."""

from __future__ import annotations

import gettext
import shutil
import subprocess
from pathlib import Path

import pytest

LOCALE = Path(__file__).resolve().parents[2] / "locale"


def _catalog(path: Path) -> dict[object, str]:
    with path.open("rb") as handle:
        return dict(gettext.GNUTranslations(handle)._catalog)  # type: ignore[attr-defined]


@pytest.mark.parametrize("po", sorted(LOCALE.glob("*/LC_MESSAGES/django.po")), ids=str)
def test_compiled_messages_match_their_source(po: Path, tmp_path: Path) -> None:
    if shutil.which("msgfmt") is None:
        pytest.skip("msgfmt is not installed (apt-get install gettext)")
    compiled = tmp_path / "django.mo"
    subprocess.run(["msgfmt", "--check", "-o", str(compiled), str(po)], check=True)
    assert _catalog(po.with_suffix(".mo")) == _catalog(compiled), (
        f"{po.with_suffix('.mo')} is stale: run manage.py compilemessages"
    )


def test_german_is_translated() -> None:
    catalog = _catalog(LOCALE / "de" / "LC_MESSAGES" / "django.mo")
    assert catalog["How can we help?"] == "Wie können wir helfen?"
