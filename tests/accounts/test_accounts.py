"""Login, logout, password reset, tenant switching, API tokens and the commands."""

from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from helpdesk.accounts import handoff
from helpdesk.accounts import selectors as account_selectors
from helpdesk.accounts import services as account_services
from helpdesk.accounts.models import ApiToken
from helpdesk.tenancy.models import Membership, MembershipRole, Tenant
from tests.conftest import PASSWORD, TenantSetup

if TYPE_CHECKING:
    from pytest_django import DjangoCaptureOnCommitCallbacks

    from tests.conftest import ClientResponse


def _login(setup: TenantSetup, email: str, password: str = PASSWORD) -> ClientResponse:
    return setup.client().post("/accounts/login/", {"email": email, "password": password})


def test_member_logs_in_and_sees_the_shell(acme: TenantSetup) -> None:
    client = acme.client()
    response = client.post("/accounts/login/", {"email": "ADMIN@acme.test", "password": PASSWORD})
    assert response.status_code == 302
    page = client.get(response["Location"])
    assert page.status_code == 200
    for label in (b"Inbox", b"Knowledge base", b"Reports", b"Admin", b"Log out"):
        assert label in page.content


def test_wrong_password_and_non_member_get_the_same_message(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    wrong = _login(acme, "admin@acme.test", "nope")
    outsider = _login(acme, "admin@globex.test")
    assert wrong.status_code == outsider.status_code == 400
    assert b"Email or password is incorrect." in wrong.content
    assert b"Email or password is incorrect." in outsider.content


def test_login_ignores_offsite_next(acme: TenantSetup) -> None:
    response = acme.client().post(
        "/accounts/login/?next=https://evil.test/",
        {"email": "admin@acme.test", "password": PASSWORD},
    )
    assert response["Location"] == "/inbox/"


def test_logout_is_post_only(acme: TenantSetup) -> None:
    client = acme.client(acme.admin)
    assert client.get("/accounts/logout/").status_code == 405
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/inbox/").status_code == 302


def test_password_reset_mails_members_only(
    acme: TenantSetup,
    globex: TenantSetup,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    # The reset mail is queued in the tenant's outbox and sent after the request commits.
    with django_capture_on_commit_callbacks(execute=True):
        acme.client().post("/accounts/password-reset/", {"email": "admin@globex.test"})
    assert mail.outbox == []
    with django_capture_on_commit_callbacks(execute=True):
        acme.client().post("/accounts/password-reset/", {"email": "admin@acme.test"})
    assert len(mail.outbox) == 1
    link = re.search(r"http://acme\.localhost(/accounts/reset/\S+)", str(mail.outbox[0].body))
    assert link
    client = acme.client()
    form = client.get(link.group(1), follow=True)
    assert b"Choose a new password" in form.content
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "a-much-better-pass", "new_password2": "a-much-better-pass"},
    )
    assert done.status_code == 302
    assert _login(acme, "admin@acme.test", "a-much-better-pass").status_code == 302


def test_switch_tenant_hands_the_login_over_once(acme: TenantSetup, globex: TenantSetup) -> None:
    account_services.add_member(
        tenant=globex.tenant, user=acme.admin.user, role=MembershipRole.AGENT
    )
    client = acme.client()
    client.post("/accounts/login/", {"email": "admin@acme.test", "password": PASSWORD})
    page = client.get("/inbox/")
    assert b"/accounts/switch/globex/" in page.content
    response = client.get("/accounts/switch/globex/")
    assert response.status_code == 302
    target = response["Location"]
    assert target.startswith("http://globex.localhost/accounts/handoff/?token=")
    path = target.removeprefix("http://globex.localhost")
    other = globex.client()
    landed = other.get(path)
    assert landed["Location"] == "/inbox/"
    assert other.get("/inbox/").status_code == 200
    reused = globex.client().get(path)
    assert reused["Location"] == "/accounts/login/"


def test_a_session_that_does_not_say_how_it_was_opened_signs_in_again_there(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    """One from before sessions recorded it (or made by force_login): the other tenant's
    login page, no handoff token."""
    account_services.add_member(
        tenant=globex.tenant, user=acme.admin.user, role=MembershipRole.AGENT
    )
    response = acme.client(acme.admin).get("/accounts/switch/globex/")
    assert response["Location"] == "http://globex.localhost/accounts/login/"


def test_switch_to_a_tenant_you_do_not_belong_to_is_404(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    assert acme.client(acme.admin).get("/accounts/switch/globex/").status_code == 404


def test_handoff_token_for_another_tenant_is_refused(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    token = handoff.make_token(user_id=acme.admin.user.id, tenant_id=acme.id)
    assert handoff.read_token(token, tenant_id=globex.id) is None


def test_api_tokens_page_creates_and_revokes(acme: TenantSetup) -> None:
    client = acme.client(acme.admin)
    page = client.post("/accounts/api-tokens/", {"name": "CRM"})
    shown = re.search(rb'id="new-key">([^<]+)<', page.content)
    assert shown, page.content
    key = shown.group(1).decode()
    assert client.get("/api/v1/tickets/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
    token = ApiToken.objects.get(name="CRM")
    client.post("/accounts/api-tokens/", {"revoke": str(token.id)})
    assert client.get("/api/v1/tickets/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 401


def test_token_keys_are_stored_hashed(acme: TenantSetup) -> None:
    token, key = account_services.create_api_token(membership=acme.admin)
    assert key not in token.key_hash
    assert token.prefix == key[:10]


def test_create_api_token_command_prints_only_the_key(acme: TenantSetup) -> None:
    out = io.StringIO()
    call_command("create_api_token", "acme", "admin@acme.test", stdout=out)
    key = out.getvalue().strip()
    assert "\n" not in key
    response = acme.client().get("/api/v1/tickets/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 200


def test_create_api_token_command_rejects_non_members(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    with pytest.raises(CommandError, match="not a member"):
        call_command("create_api_token", "acme", "admin@globex.test", stdout=io.StringIO())


@pytest.mark.django_db
def test_create_tenant_command_provisions_everything() -> None:
    out = io.StringIO()
    call_command(
        "create_tenant",
        "initech",
        "--name",
        "Initech",
        "--admin-email",
        "boss@initech.test",
        "--admin-password",
        "pw-123456",
        stdout=out,
    )
    assert "support@initech.localhost" in out.getvalue()
    tenant = Tenant.objects.get(slug="initech")
    assert Membership.objects.get(tenant=tenant).role == MembershipRole.ADMIN
    with pytest.raises(CommandError, match="tenant_slug_taken"):
        call_command(
            "create_tenant",
            "initech",
            "--name",
            "Again",
            "--admin-email",
            "x@initech.test",
            "--admin-password",
            "pw",
            stdout=io.StringIO(),
        )
    with pytest.raises(CommandError, match="invalid_tenant_slug"):
        call_command(
            "create_tenant",
            "Bad Slug!",
            "--name",
            "Bad",
            "--admin-email",
            "x@bad.test",
            "--admin-password",
            "pw",
            stdout=io.StringIO(),
        )


def test_one_user_many_tenants(acme: TenantSetup, globex: TenantSetup) -> None:
    user = acme.admin.user
    account_services.add_member(tenant=globex.tenant, user=user, role=MembershipRole.LIGHT_AGENT)
    assert sorted(m.tenant.slug for m in user.memberships.all()) == ["acme", "globex"]


def test_a_password_change_ends_other_sessions(acme: TenantSetup) -> None:
    """The tenant middleware loads the member and user in one query; it must still refuse
    a session whose password hash is out of date, as Django's own check does."""
    client = acme.client()
    client.post("/accounts/login/", {"email": "admin@acme.test", "password": PASSWORD})
    assert client.get("/inbox/").status_code == 200
    user = acme.admin.user
    user.set_password("a-new-long-password-42")
    user.save()
    response = client.get("/inbox/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_a_session_with_a_tampered_hash_is_anonymous(acme: TenantSetup) -> None:
    from django.contrib.auth import HASH_SESSION_KEY

    client = acme.client()
    client.post("/accounts/login/", {"email": "admin@acme.test", "password": PASSWORD})
    session = client.session
    session[HASH_SESSION_KEY] = "0" * 64
    session.save()
    response = client.get("/inbox/")
    assert response.status_code == 302


def test_users_are_found_by_email_through_the_lower_email_index(db: None) -> None:
    """Password resets, seeding and API-token commands look users up by address; `iexact`
    compared upper(email) and read every user of the installation."""
    user = account_services.get_or_create_user(email="Ana.Agent@Example.test", name="Ana")
    assert account_services.get_or_create_user(email=" ana.agent@EXAMPLE.test ") == user
    sql, params = account_selectors.users_with_email(
        "ANA.agent@example.test"
    ).query.sql_with_params()
    with connection.cursor() as cursor, transaction.atomic():
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "accounts_user_email_ci_uniq" in plan
