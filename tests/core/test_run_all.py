"""`make run`'s banner (helpdesk.ops run_all): what it tells the developer."""

from __future__ import annotations

from helpdesk.ops.management.commands import run_all

OPTIONS = {"port": 8000, "smtp_port": 2525, "bind": "127.0.0.1"}


def test_banner_says_how_to_turn_on_esp_webhooks(settings):
    settings.ANYMAIL = {}
    text = run_all.banner(OPTIONS)
    assert "answer 403" in text
    assert "set ANYMAIL_WEBHOOK_SECRET=user:password" in text


def test_banner_is_quiet_about_webhooks_once_the_secret_is_set(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": "hook:secret"}
    assert "ANYMAIL_WEBHOOK_SECRET" not in run_all.banner(OPTIONS)
    assert "demo.localhost:8000" in run_all.banner(OPTIONS)
