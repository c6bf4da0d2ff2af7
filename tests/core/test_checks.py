"""Deployment checks refuse an unauthenticated webhook and a development secret key."""

from __future__ import annotations

import pytest
from pytest_django import Settings

from helpdesk.core import checks


def test_webhook_secret_is_required_for_deployment(settings: Settings) -> None:
    settings.ANYMAIL = {}
    assert [e.id for e in checks.check_webhook_secret(None)] == ["helpdesk.E001"]
    settings.ANYMAIL = {"WEBHOOK_SECRET": "user:pass"}
    assert checks.check_webhook_secret(None) == []


@pytest.mark.parametrize(
    "secret",
    [
        "change-me-user:change-me-password",
        "esp:change-me-password",
        ["esp:s3cret-rotated", "change-me-user:change-me-password"],
    ],
)
def test_the_example_webhook_secret_fails_the_deployment_check(
    settings: Settings, secret: str | list[str]
) -> None:
    settings.ANYMAIL = {"WEBHOOK_SECRET": secret}
    errors = checks.check_webhook_secret(None)
    assert [e.id for e in errors] == ["helpdesk.E003"]
    assert "change-me" in errors[0].msg


def test_secret_key_is_required_for_deployment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HELPDESK_SECRET_KEY", raising=False)
    assert [e.id for e in checks.check_secret_key(None)] == ["helpdesk.E002"]
    monkeypatch.setenv("HELPDESK_SECRET_KEY", "x" * 50)
    assert checks.check_secret_key(None) == []
