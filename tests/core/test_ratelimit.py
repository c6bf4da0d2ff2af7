"""Brute-force and abuse limits (helpdesk.core.ratelimit), counted in the real Redis: login
per account and per IP, password reset per address and per IP, failed API tokens per IP,
public forms per IP; 429 with Retry-After, lockouts logged, limits from the settings.

Per-IP counters are global (one address hammering several tenants is one client);
per-account counters are per login address, which is one user on every tenant."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, RequestFactory, TestCase
from django.utils import timezone
from pytest_django import Settings

from helpdesk.api.throttling import PrincipalRateThrottle
from helpdesk.core import ratelimit
from helpdesk.core.checks import check_trusted_proxies
from helpdesk.core.env import env_networks, env_rate
from tests.conftest import PASSWORD, TenantSetup
from tests.tickets.test_satisfaction import _sent_survey

if TYPE_CHECKING:
    from tests.conftest import ClientResponse

LOGIN = "/accounts/login/"
RESET = "/accounts/password-reset/"


def _login(setup: TenantSetup, email: str, password: str, ip: str = "10.0.0.1") -> ClientResponse:
    return Client(HTTP_HOST=setup.host, REMOTE_ADDR=ip).post(
        LOGIN, {"email": email, "password": password}
    )


def _reset(setup: TenantSetup, email: str, ip: str = "10.0.0.1") -> ClientResponse:
    """The reset mail is queued in the tenant's outbox and sent once the request commits."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return Client(HTTP_HOST=setup.host, REMOTE_ADDR=ip).post(RESET, {"email": email})


def _assert_throttled_page(response: ClientResponse, max_seconds: int) -> None:
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= max_seconds
    assert "Too many requests" in response.content.decode()


# --- Login --------------------------------------------------------------------------------


def test_failed_logins_lock_the_account_from_every_address_and_the_lockout_is_logged(
    acme: TenantSetup, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    settings.HELPDESK_RATELIMIT_LOGIN_ACCOUNT = "3/15 minutes"
    with caplog.at_level(logging.WARNING, logger="helpdesk.core.ratelimit"):
        for number in range(3):
            wrong = _login(acme, "admin@acme.test", f"guess-{number}", ip=f"10.0.1.{number}")
            assert wrong.status_code == 400
    locked = _login(acme, " ADMIN@acme.test", PASSWORD, ip="10.0.2.1")
    _assert_throttled_page(locked, 900)
    assert "Too many failed logins" in locked.content.decode()
    assert 'href="/accounts/password-reset/"' in locked.content.decode()
    [record] = [r for r in caplog.records if r.name == "helpdesk.core.ratelimit"]
    assert record.levelno == logging.WARNING
    assert "login_account" in record.getMessage()
    assert "admin@acme.test" in record.getMessage()
    assert "guess" not in record.getMessage()


def test_the_account_lockout_ends_with_its_window(acme: TenantSetup, settings: Settings) -> None:
    settings.HELPDESK_RATELIMIT_LOGIN_ACCOUNT = "2/15 minutes"
    for number in range(2):
        _login(acme, "admin@acme.test", f"guess-{number}", ip=f"10.0.1.{number}")
    assert _login(acme, "admin@acme.test", PASSWORD).status_code == 429
    with time_machine.travel(timezone.now() + timedelta(minutes=15, seconds=2)):
        assert _login(acme, "admin@acme.test", PASSWORD).status_code == 302


def test_attempts_while_locked_do_not_extend_the_lockout(
    acme: TenantSetup, settings: Settings
) -> None:
    settings.HELPDESK_RATELIMIT_LOGIN_ACCOUNT = "2/15 minutes"
    start = timezone.now()
    for number in range(2):
        _login(acme, "admin@acme.test", f"guess-{number}")
    with time_machine.travel(start + timedelta(minutes=10)):
        for number in range(5):  # refused, so not counted
            assert _login(acme, "admin@acme.test", f"more-{number}").status_code == 429
    with time_machine.travel(start + timedelta(minutes=15, seconds=2)):
        assert _login(acme, "admin@acme.test", PASSWORD).status_code == 302


def test_a_password_reset_works_while_locked_and_ends_the_lockout(
    acme: TenantSetup, settings: Settings
) -> None:
    settings.HELPDESK_RATELIMIT_LOGIN_ACCOUNT = "2/15 minutes"
    for number in range(2):
        _login(acme, "admin@acme.test", f"guess-{number}", ip=f"10.0.1.{number}")
    assert _login(acme, "admin@acme.test", PASSWORD).status_code == 429
    assert _reset(acme, "admin@acme.test").status_code == 302
    link = re.search(r"http://acme\.localhost(/accounts/reset/\S+)", str(mail.outbox[0].body))
    assert link
    client = Client(HTTP_HOST=acme.host)
    form = client.get(link.group(1), follow=True)
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "a-much-better-pass", "new_password2": "a-much-better-pass"},
    )
    assert done.status_code == 302
    assert _login(acme, "admin@acme.test", "a-much-better-pass").status_code == 302


def test_failed_logins_lock_the_ip_for_every_account(
    acme: TenantSetup, globex: TenantSetup, settings: Settings
) -> None:
    settings.HELPDESK_RATELIMIT_LOGIN_IP = "3/15 minutes"
    for number in range(3):
        assert (
            _login(acme, f"someone-{number}@acme.test", "guess", ip="10.9.9.9").status_code == 400
        )
    _assert_throttled_page(_login(acme, "admin@acme.test", PASSWORD, ip="10.9.9.9"), 900)
    # Per-IP limits are global: the same address is refused on another tenant too...
    _assert_throttled_page(_login(globex, "admin@globex.test", PASSWORD, ip="10.9.9.9"), 900)
    # ...while other addresses log in to either.
    assert _login(acme, "admin@acme.test", PASSWORD, ip="10.9.9.10").status_code == 302
    assert _login(globex, "admin@globex.test", PASSWORD, ip="10.9.9.10").status_code == 302


def test_an_account_lockout_is_per_login_and_does_not_touch_other_accounts(
    acme: TenantSetup, globex: TenantSetup, settings: Settings
) -> None:
    settings.HELPDESK_RATELIMIT_LOGIN_ACCOUNT = "2/15 minutes"
    for number in range(2):
        _login(acme, "admin@acme.test", f"guess-{number}", ip=f"10.0.1.{number}")
    assert _login(acme, "admin@acme.test", PASSWORD).status_code == 429
    # The same login is refused on any tenant's host (one password everywhere)...
    assert _login(globex, "admin@acme.test", PASSWORD, ip="10.0.3.1").status_code == 429
    # ...another tenant's account, from the same networks, is not.
    assert _login(globex, "admin@globex.test", PASSWORD, ip="10.0.1.0").status_code == 302


def test_successful_logins_are_not_counted(acme: TenantSetup, settings: Settings) -> None:
    settings.HELPDESK_RATELIMIT_LOGIN_ACCOUNT = "2/15 minutes"
    settings.HELPDESK_RATELIMIT_LOGIN_IP = "2/15 minutes"
    for _ in range(5):
        assert _login(acme, "admin@acme.test", PASSWORD).status_code == 302


def test_a_login_while_another_for_the_account_is_in_flight_is_refused(
    acme: TenantSetup, globex: TenantSetup, settings: Settings
) -> None:
    """The lockout is read before the password check and counted after it: parallel
    guesses would all pass the read. So one check per address runs at a time, and another
    meanwhile gets the lockout's 429 (shortly)."""
    settings.HELPDESK_RATELIMIT_LOGIN_ACCOUNT = "3/15 minutes"
    with ratelimit.one_at_a_time("login_account", "admin@acme.test") as my_turn:
        assert my_turn
        refused = _login(acme, "admin@acme.test", PASSWORD, ip="10.0.1.50")
        assert refused.status_code == 429
        assert 1 <= int(refused["Retry-After"]) <= 10
        # On every tenant's host; and another account goes on.
        assert _login(globex, "admin@acme.test", PASSWORD, ip="10.0.1.51").status_code == 429
        assert _login(globex, "admin@globex.test", PASSWORD, ip="10.0.1.50").status_code == 302
        with ratelimit.one_at_a_time("login_account", "admin@acme.test") as second:
            assert not second
    # The refused attempts were not counted; the turn is free again.
    for _ in range(4):
        assert _login(acme, "admin@acme.test", PASSWORD, ip="10.0.1.50").status_code == 302


def _change_password(client: Client, old: str) -> ClientResponse:
    return client.post(
        "/accounts/password/",
        {"old_password": old, "new_password1": "N3w-passw0rd!", "new_password2": "N3w-passw0rd!"},
    )


def test_wrong_current_passwords_on_the_password_change_lock_the_account(
    acme: TenantSetup, settings: Settings
) -> None:
    """A stolen session cannot guess the current password without limit there."""
    settings.HELPDESK_RATELIMIT_LOGIN_ACCOUNT = "3/15 minutes"
    client = acme.client(acme.admin)
    client.defaults["REMOTE_ADDR"] = "10.0.2.50"
    for number in range(3):
        assert _change_password(client, f"guess-{number}").status_code == 400
    refused = _change_password(client, PASSWORD)
    _assert_throttled_page(refused, 900)
    user = acme.admin.user
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    # One budget with the login form: the address is locked there too.
    assert _login(acme, "admin@acme.test", PASSWORD, ip="10.0.2.51").status_code == 429


def test_the_password_change_is_refused_while_the_ip_is_locked_and_success_is_not_counted(
    acme: TenantSetup, settings: Settings
) -> None:
    settings.HELPDESK_RATELIMIT_LOGIN_IP = "1/15 minutes"
    client = acme.client(acme.admin)
    client.defaults["REMOTE_ADDR"] = "10.0.2.60"
    response = _change_password(client, PASSWORD)
    assert response.status_code == 302
    assert _login(acme, "admin@acme.test", "N3w-passw0rd!", ip="10.0.2.60").status_code == 302
    _login(acme, "nobody@acme.test", "guess", ip="10.0.2.60")
    _assert_throttled_page(_change_password(client, "N3w-passw0rd!"), 900)


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"email": "not an address", "password": "x"},
        {"email": "admin@acme.test"},
        {"email": "a" * 5000 + "@acme.test", "password": "x"},
        {"email": "admin@acme.test\x00", "password": "x"},
    ],
)
def test_malformed_logins_are_400_and_not_counted(
    acme: TenantSetup, settings: Settings, data: dict[str, str]
) -> None:
    settings.HELPDESK_RATELIMIT_LOGIN_ACCOUNT = "1/15 minutes"
    settings.HELPDESK_RATELIMIT_LOGIN_IP = "1/15 minutes"
    client = Client(HTTP_HOST=acme.host)
    for _ in range(3):
        assert client.post(LOGIN, data).status_code == 400
    assert _login(acme, "admin@acme.test", PASSWORD, ip="127.0.0.1").status_code == 302


# --- Password reset -----------------------------------------------------------------------


def test_password_reset_is_limited_per_address(acme: TenantSetup, settings: Settings) -> None:
    settings.HELPDESK_RATELIMIT_PASSWORD_RESET_ADDRESS = "2/hour"
    for number in range(2):
        assert _reset(acme, "admin@acme.test", ip=f"10.0.4.{number}").status_code == 302
    refused = _reset(acme, "Admin@acme.test ", ip="10.0.4.9")
    _assert_throttled_page(refused, 3600)
    assert "Too many password resets" in refused.content.decode()
    assert len(mail.outbox) == 2
    # An address without a login is counted alike, so the 429 tells nothing about who exists.
    for number in range(2):
        assert _reset(acme, "nobody@acme.test", ip=f"10.0.5.{number}").status_code == 302
    assert _reset(acme, "nobody@acme.test", ip="10.0.5.9").status_code == 429
    # Other addresses are not affected.
    assert _reset(acme, "someone@acme.test", ip="10.0.4.0").status_code == 302


def test_password_reset_is_limited_per_ip_across_tenants(
    acme: TenantSetup, globex: TenantSetup, settings: Settings
) -> None:
    settings.HELPDESK_RATELIMIT_PASSWORD_RESET_IP = "2/hour"
    assert _reset(acme, "admin@acme.test", ip="10.0.6.1").status_code == 302
    assert _reset(acme, "nobody@acme.test", ip="10.0.6.1").status_code == 302
    _assert_throttled_page(_reset(globex, "admin@globex.test", ip="10.0.6.1"), 3600)
    assert len(mail.outbox) == 1
    assert _reset(globex, "admin@globex.test", ip="10.0.6.2").status_code == 302


def test_invalid_password_reset_input_is_not_a_500(acme: TenantSetup, settings: Settings) -> None:
    settings.HELPDESK_RATELIMIT_PASSWORD_RESET_IP = "1/hour"
    client = Client(HTTP_HOST=acme.host)
    for data in ({}, {"email": "nope"}, {"email": "x" * 5000}):
        response = client.post(RESET, data)
        assert response.status_code < 500
        assert response.status_code != 429  # not counted: no mail could go out


# --- API tokens ---------------------------------------------------------------------------


def test_failed_api_tokens_lock_the_ip_with_the_error_envelope(
    acme: TenantSetup, globex: TenantSetup, settings: Settings
) -> None:
    settings.HELPDESK_RATELIMIT_API_TOKEN_IP = "3/10 minutes"
    bad = Client(HTTP_HOST=acme.host, REMOTE_ADDR="10.0.7.1", HTTP_AUTHORIZATION="Token nope")
    assert bad.get("/api/v1/tickets/").status_code == 401
    assert bad.get("/api/v1/tickets/").status_code == 401
    # A token of another tenant is a failure here too.
    foreign = globex.api_client()
    foreign.defaults["REMOTE_ADDR"] = "10.0.7.1"
    assert foreign.get("/api/v1/tickets/", HTTP_HOST=acme.host).status_code == 401
    good = acme.api_client()
    good.defaults["REMOTE_ADDR"] = "10.0.7.1"
    refused = good.get("/api/v1/tickets/")
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 600
    assert refused.json()["error"]["code"] == "throttled"
    assert "Too many invalid API tokens" in refused.json()["error"]["message"]
    # Locked before the token is looked at, on every tenant; other addresses go on.
    assert bad.get("/api/v1/tickets/").status_code == 429
    assert foreign.get("/api/v1/tickets/").status_code == 429
    good.defaults["REMOTE_ADDR"] = "10.0.7.2"
    assert good.get("/api/v1/tickets/").status_code == 200


def test_a_locked_token_request_outside_the_api_gets_the_envelope_too(
    acme: TenantSetup, settings: Settings
) -> None:
    settings.HELPDESK_RATELIMIT_API_TOKEN_IP = "1/10 minutes"
    client = Client(HTTP_HOST=acme.host, HTTP_AUTHORIZATION="Token nope")
    assert client.get("/inbox/").status_code == 401
    refused = client.get("/inbox/")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "throttled"


def test_a_locked_login_with_another_authorization_header_gets_the_page(
    acme: TenantSetup, settings: Settings
) -> None:
    settings.HELPDESK_RATELIMIT_LOGIN_IP = "1/15 minutes"
    client = Client(HTTP_HOST=acme.host, HTTP_AUTHORIZATION="Basic c2l0ZTpndWFyZA==")
    client.post(LOGIN, {"email": "admin@acme.test", "password": "guess"})
    refused = client.post(LOGIN, {"email": "admin@acme.test", "password": PASSWORD})
    _assert_throttled_page(refused, 900)


def test_valid_api_tokens_are_not_counted(acme: TenantSetup, settings: Settings) -> None:
    settings.HELPDESK_RATELIMIT_API_TOKEN_IP = "1/10 minutes"
    client = acme.api_client()
    for _ in range(4):
        assert client.get("/api/v1/tickets/").status_code == 200


@pytest.mark.parametrize("header", ["Token ", "Token \x7f", "Token " + "x" * 10000, "Token a b"])
def test_malformed_tokens_are_401_then_429(
    acme: TenantSetup, settings: Settings, header: str
) -> None:
    settings.HELPDESK_RATELIMIT_API_TOKEN_IP = "1/10 minutes"
    client = Client(HTTP_HOST=acme.host, HTTP_AUTHORIZATION=header)
    assert client.post("/api/v1/tickets/", "{", content_type="application/json").status_code == 401
    refused = client.post("/api/v1/tickets/", "{", content_type="application/json")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "throttled"


# --- Public forms -------------------------------------------------------------------------


def test_satisfaction_posts_are_limited_per_ip(
    acme: TenantSetup, globex: TenantSetup, settings: Settings
) -> None:
    settings.HELPDESK_RATELIMIT_PUBLIC_FORM_IP = "2/10 minutes"
    _, rating = _sent_survey(acme)
    _, other_rating = _sent_survey(globex)
    client = Client(HTTP_HOST=acme.host, REMOTE_ADDR="10.0.8.1")
    url = f"/satisfaction/{rating.token}/"
    assert client.post(url, {"score": "good"}).status_code == 200
    assert client.post(url, {"score": "meh"}).status_code == 400  # bad input counts too
    refused = client.post(url, {"score": "bad"})
    _assert_throttled_page(refused, 600)
    assert "Too many forms" in refused.content.decode()
    assert client.get(url).status_code == 200  # reading the page is not limited
    # One budget per IP for every public form of every tenant.
    other = Client(HTTP_HOST=globex.host, REMOTE_ADDR="10.0.8.1")
    assert other.post(f"/satisfaction/{other_rating.token}/", {"score": "good"}).status_code == 429
    elsewhere = Client(HTTP_HOST=acme.host, REMOTE_ADDR="10.0.8.2")
    assert elsewhere.post(url, {"score": "bad"}).status_code == 200


def test_scanning_survey_tokens_is_limited(acme: TenantSetup, settings: Settings) -> None:
    settings.HELPDESK_RATELIMIT_PUBLIC_FORM_IP = "2/10 minutes"
    client = Client(HTTP_HOST=acme.host)
    for number in range(2):
        assert client.post(f"/satisfaction/guess-{number}/", {"score": "good"}).status_code == 404
    assert client.post("/satisfaction/guess-3/", {"score": "good"}).status_code == 429


# --- Client address, settings -------------------------------------------------------------


def test_client_ip_ignores_x_forwarded_for_from_a_direct_client(settings: Settings) -> None:
    """HELPDESK_BEHIND_PROXY (X-Forwarded-Proto) does not make X-Forwarded-For trusted: a
    client reaching the app directly writes whatever it likes there."""
    factory = RequestFactory()
    forged = factory.get("/", REMOTE_ADDR="10.1.1.1", HTTP_X_FORWARDED_FOR="1.2.3.4, 5.6.7.8")
    for behind_proxy in (False, True):
        settings.HELPDESK_BEHIND_PROXY = behind_proxy
        settings.HELPDESK_TRUSTED_PROXIES = ()
        assert ratelimit.client_ip(forged) == "10.1.1.1"
        settings.HELPDESK_TRUSTED_PROXIES = ("192.0.2.0/24",)
        assert ratelimit.client_ip(forged) == "10.1.1.1"
    ipv6 = factory.get("/", REMOTE_ADDR="2001:db8:1:2:3:4:5:6")
    assert ratelimit.client_ip(ipv6) == "2001:db8:1:2::"
    assert ratelimit.client_ip(factory.get("/", REMOTE_ADDR="")) == "unknown"


def test_client_ip_behind_trusted_proxies_is_the_rightmost_untrusted_entry(
    settings: Settings,
) -> None:
    settings.HELPDESK_TRUSTED_PROXIES = ("192.0.2.10/32", "172.18.0.0/16")
    factory = RequestFactory()

    def ip(forwarded: str | None, remote: str = "192.0.2.10") -> str:
        request = factory.get("/", REMOTE_ADDR=remote)
        if forwarded is not None:
            request.META["HTTP_X_FORWARDED_FOR"] = forwarded
        return ratelimit.client_ip(request)

    # The client's own entries (left) are passed over for the one the proxy appended.
    assert ip("1.2.3.4, 5.6.7.8") == "5.6.7.8"
    # A chain of trusted proxies is walked through from the right.
    assert ip("1.2.3.4, 5.6.7.8, 172.18.0.3") == "5.6.7.8"
    assert ip("2001:db8:9:8:7:6:5:4") == "2001:db8:9:8::"
    # No header, or nothing but proxies or garbage: the nearest trusted hop.
    assert ip(None) == "192.0.2.10"
    assert ip("172.18.0.3") == "172.18.0.3"
    assert ip("not-an-address, 172.18.0.3") == "172.18.0.3"
    assert ip("not-an-address") == "192.0.2.10"


def test_a_forged_x_forwarded_for_does_not_escape_the_login_lockout(
    acme: TenantSetup, settings: Settings
) -> None:
    """A direct client behind the shipped settings (HELPDESK_BEHIND_PROXY=1) cannot pick a
    fresh address for each guess, nor lock another address out."""
    settings.HELPDESK_BEHIND_PROXY = True
    settings.HELPDESK_TRUSTED_PROXIES = ()
    settings.HELPDESK_RATELIMIT_LOGIN_IP = "2/15 minutes"
    for number in range(2):
        Client(
            HTTP_HOST=acme.host, REMOTE_ADDR="10.0.9.1", HTTP_X_FORWARDED_FOR=f"9.9.9.{number}"
        ).post(LOGIN, {"email": f"nobody{number}@acme.test", "password": "guess"})
    refused = Client(
        HTTP_HOST=acme.host, REMOTE_ADDR="10.0.9.1", HTTP_X_FORWARDED_FOR="9.9.9.200"
    ).post(LOGIN, {"email": "admin@acme.test", "password": PASSWORD})
    _assert_throttled_page(refused, 900)
    # The forged addresses were not locked out either.
    assert _login(acme, "admin@acme.test", PASSWORD, ip="9.9.9.0").status_code == 302


def test_drf_throttle_counts_anonymous_requests_by_the_same_address(settings: Settings) -> None:
    from rest_framework.request import Request

    settings.HELPDESK_BEHIND_PROXY = True
    settings.HELPDESK_TRUSTED_PROXIES = ()
    request = RequestFactory().get("/", REMOTE_ADDR="10.1.1.1", HTTP_X_FORWARDED_FOR="6.6.6.6")
    assert PrincipalRateThrottle().get_ident(Request(request)) == "10.1.1.1"
    settings.HELPDESK_TRUSTED_PROXIES = ("10.1.1.1",)
    assert PrincipalRateThrottle().get_ident(Request(request)) == "6.6.6.6"


@pytest.mark.parametrize("value", ["ten", "10", "10/fortnight", "0/minute", "/"])
def test_a_bad_rate_setting_is_refused_at_startup(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("HELPDESK_RATELIMIT_LOGIN_IP", value)
    with pytest.raises(ImproperlyConfigured, match="HELPDESK_RATELIMIT_LOGIN_IP"):
        env_rate("HELPDESK_RATELIMIT_LOGIN_IP", "50/15 minutes")


def test_rates_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELPDESK_RATELIMIT_LOGIN_IP", " 7 per 2 minutes ")
    assert env_rate("HELPDESK_RATELIMIT_LOGIN_IP", "50/15 minutes") == "7 per 2 minutes"


@pytest.mark.parametrize("value", ["proxy", "10.0.0.300", "10.0.0.0/33", "10.0.0.1,,nope"])
def test_a_bad_trusted_proxy_setting_is_refused_at_startup(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("HELPDESK_TRUSTED_PROXIES", value)
    with pytest.raises(ImproperlyConfigured, match="HELPDESK_TRUSTED_PROXIES"):
        env_networks("HELPDESK_TRUSTED_PROXIES")


def test_trusted_proxies_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELPDESK_TRUSTED_PROXIES", " 192.0.2.10, 172.18.0.0/16 ,2001:db8::/48")
    assert env_networks("HELPDESK_TRUSTED_PROXIES") == (
        "192.0.2.10/32",
        "172.18.0.0/16",
        "2001:db8::/48",
    )
    monkeypatch.setenv("HELPDESK_TRUSTED_PROXIES", "")
    assert env_networks("HELPDESK_TRUSTED_PROXIES") == ()


def test_deploy_check_warns_behind_a_proxy_without_trusted_proxies(settings: Settings) -> None:
    settings.HELPDESK_BEHIND_PROXY = True
    settings.HELPDESK_TRUSTED_PROXIES = ()
    assert [w.id for w in check_trusted_proxies(None)] == ["helpdesk.W001"]
    settings.HELPDESK_TRUSTED_PROXIES = ("192.0.2.10/32",)
    assert check_trusted_proxies(None) == []
    settings.HELPDESK_BEHIND_PROXY = False
    settings.HELPDESK_TRUSTED_PROXIES = ()
    assert check_trusted_proxies(None) == []
