"""The documented production environment passes Django's deployment checks, and HTTPS
hardening follows HELPDESK_PUBLIC_SCHEME unless set on its own."""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
from pathlib import Path

from django.test import Client
from pytest_django import Settings

from tests.conftest import TenantSetup

ROOT = Path(__file__).resolve().parent.parent
# Where compose points the processes (docker-compose.yml); nothing here connects to them.
COMPOSE_CONNECTIONS = {
    "DATABASE_URL": "postgresql://postgres:secret@postgres:5432/helpdesk",
    "REDIS_URL": "redis://redis:6379/0",
}


def _production_environment(tmp_path: Path) -> dict[str, str]:
    """.env.example as an operator fills it in: every change-me replaced by a real secret."""
    environment = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **COMPOSE_CONNECTIONS}
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = re.match(r"([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:
            name, value = match.groups()
            if "change-me" in value:
                value = secrets.token_urlsafe(50)
            if name == "ANYMAIL_WEBHOOK_SECRET":
                value = f"esp:{secrets.token_urlsafe(30)}"
            environment[name] = value
    environment["HELPDESK_VAR_DIR"] = str(tmp_path / "var")
    return environment


def _run(arguments: list[str], environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *arguments],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _settings(environment: dict[str, str]) -> dict[str, object]:
    names = [
        "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
    ]
    script = (
        # The settings module alone (no django.setup(): the apps are not needed to read it).
        "import json; from django.conf import settings; "
        f"print(json.dumps({{name: getattr(settings, name) for name in {names!r}}}))"
    )
    result = _run(["-c", script], {**environment, "DJANGO_SETTINGS_MODULE": "helpdesk.settings"})
    assert result.returncode == 0, result.stderr[-2000:]
    values: dict[str, object] = json.loads(result.stdout.splitlines()[-1])
    return values


def test_deploy_check_is_clean_with_the_documented_production_environment(tmp_path: Path) -> None:
    result = _run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        _production_environment(tmp_path),
    )
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert "System check identified no issues" in result.stdout


def test_https_hardening_follows_the_public_scheme(tmp_path: Path) -> None:
    environment = _production_environment(tmp_path)
    assert _settings({**environment, "HELPDESK_PUBLIC_SCHEME": "https"}) == {
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
    }
    assert _settings({**environment, "HELPDESK_PUBLIC_SCHEME": "http"}) == {
        "SECURE_SSL_REDIRECT": False,
        "SECURE_HSTS_SECONDS": 0,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": False,
        "SESSION_COOKIE_SECURE": False,
        "CSRF_COOKIE_SECURE": False,
    }


def test_each_https_setting_can_be_set_on_its_own(tmp_path: Path) -> None:
    environment = {
        **_production_environment(tmp_path),
        "HELPDESK_PUBLIC_SCHEME": "https",
        "HELPDESK_SSL_REDIRECT": "0",
        "HELPDESK_HSTS_SECONDS": "3600",
        "HELPDESK_HSTS_INCLUDE_SUBDOMAINS": "0",
        "HELPDESK_SESSION_COOKIE_SECURE": "1",
        "HELPDESK_CSRF_COOKIE_SECURE": "1",
    }
    assert _settings(environment) == {
        "SECURE_SSL_REDIRECT": False,
        "SECURE_HSTS_SECONDS": 3600,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": False,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
    }
    bad = _run(["manage.py", "check"], {**environment, "HELPDESK_HSTS_SECONDS": "a year"})
    assert bad.returncode != 0
    assert "HELPDESK_HSTS_SECONDS must be an integer" in bad.stderr


def test_health_answers_plain_http_when_https_is_enforced(
    acme: TenantSetup, settings: Settings
) -> None:
    """Compose's health checks and probes inside the network do not speak TLS."""
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    client = Client(HTTP_HOST=acme.host)
    login = client.get("/accounts/login/")
    assert login.status_code == 301
    assert login["Location"] == f"https://{acme.host}/accounts/login/"
    assert client.get("/healthz").status_code in (200, 503)
    secure = client.get("/accounts/login/", secure=True)
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"] == "max-age=31536000"
