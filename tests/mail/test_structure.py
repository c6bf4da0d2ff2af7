"""Only helpdesk.mail imports Django's mail API or anymail's sending side: the import-linter
contract holds (make lint runs every contract; this names the one for mail)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_only_helpdesk_mail_imports_the_mail_api() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--contract", "only-mail-sends-mail", "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Only helpdesk.mail sends mail KEPT" in result.stdout
