"""Two-factor sign-in: setting it up, signing in with a code or a recovery code, the
limits, the tenant's requirement, an admin's reset, and API tokens left alone."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

import pyotp
import pytest
from django.core import mail
from django.test import Client

from helpdesk.accounts.models import RecoveryCode, TwoFactorDevice
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import AuditAction, AuditEvent, MembershipRole
from tests.conftest import PASSWORD, TenantSetup
from tests.factories.accounts import make_member

if TYPE_CHECKING:
    from pytest_django import DjangoCaptureOnCommitCallbacks

SECRET_RE = re.compile(r'id="two-factor-secret">([A-Z2-7 ]+)<')
CODES_RE = re.compile(r"<li><code>([0-9a-f]{5}-[0-9a-f]{5})</code></li>")


def _enrol(client: Client) -> tuple[pyotp.TOTP, list[str]]:
    """Set up two-factor sign-in on the client's login; the TOTP and the recovery codes."""
    page = client.get("/accounts/two-factor/")
    assert page.status_code == 200
    found = SECRET_RE.search(page.content.decode())
    assert found, page.content[:2000]
    assert b"<svg" in page.content
    totp = pyotp.TOTP(found.group(1).replace(" ", ""))
    done = client.post("/accounts/two-factor/", {"action": "enable", "code": totp.now()})
    assert done.status_code == 200
    codes = CODES_RE.findall(done.content.decode())
    assert len(codes) == 10
    return totp, codes


def _password(setup: TenantSetup, email: str) -> Client:
    client = setup.client()
    response = client.post("/accounts/login/", {"email": email, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/code/"
    return client


def _next_step_code(totp: pyotp.TOTP) -> str:
    # The code just used is refused a second time; the next step's is still in the window.
    return totp.at(int(time.time()) + 30)


def test_enrol_then_sign_in_with_a_code(acme: TenantSetup) -> None:
    client = acme.client(acme.admin)
    totp, codes = _enrol(client)
    device = TwoFactorDevice.objects.get(user=acme.admin.user)
    assert totp.secret not in device.secret_encrypted  # encrypted at rest
    assert not any(
        c.replace("-", "") in h
        for c in codes
        for h in RecoveryCode.objects.values_list("code_hash", flat=True)
    )
    fresh = _password(acme, "admin@acme.test")
    assert fresh.get("/inbox/").status_code == 302  # no session yet
    wrong = fresh.post("/accounts/login/code/", {"code": "000000"})
    assert wrong.status_code == 400
    assert b"not right" in wrong.content
    ok = fresh.post("/accounts/login/code/", {"code": _next_step_code(totp)})
    assert ok.status_code == 302
    assert ok["Location"] == "/inbox/"
    assert fresh.get("/inbox/").status_code == 200
    with tenant_context(acme.id):
        methods = [
            e.details.get("method")
            for e in AuditEvent.objects.filter(action=AuditAction.SIGN_IN_SUCCEEDED)
        ]
        assert "password+totp" in methods
        assert AuditEvent.objects.filter(action=AuditAction.TWO_FACTOR_ENABLED).exists()
        assert AuditEvent.objects.filter(
            action=AuditAction.SIGN_IN_FAILED, details__method="password+second_factor"
        ).exists()


def test_a_code_signs_in_once(acme: TenantSetup) -> None:
    totp, _ = _enrol(acme.client(acme.admin))
    code = _next_step_code(totp)
    first = _password(acme, "admin@acme.test")
    assert first.post("/accounts/login/code/", {"code": code}).status_code == 302
    second = _password(acme, "admin@acme.test")
    assert second.post("/accounts/login/code/", {"code": code}).status_code == 400


def test_a_recovery_code_works_once(acme: TenantSetup) -> None:
    _, codes = _enrol(acme.client(acme.admin))
    first = _password(acme, "admin@acme.test")
    assert first.post("/accounts/login/code/", {"code": codes[0].upper()}).status_code == 302
    second = _password(acme, "admin@acme.test")
    assert second.post("/accounts/login/code/", {"code": codes[0]}).status_code == 400
    assert second.post("/accounts/login/code/", {"code": codes[1]}).status_code == 302
    with tenant_context(acme.id):
        assert AuditEvent.objects.filter(action=AuditAction.RECOVERY_CODE_USED).count() == 2


def test_code_step_without_password_step_goes_to_login(acme: TenantSetup) -> None:
    response = acme.client().post("/accounts/login/code/", {"code": "123456"})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"


def test_a_code_typed_in_another_scripts_digits_counts(acme: TenantSetup) -> None:
    """An Arabic or full-width keyboard types its own digits: the same code."""
    totp, _ = _enrol(acme.client(acme.admin))
    arabic_indic = {ord("0") + n: 0x0660 + n for n in range(10)}
    client = _password(acme, "admin@acme.test")
    typed = _next_step_code(totp).translate(arabic_indic)
    response = client.post("/accounts/login/code/", {"code": typed})
    assert response.status_code == 302
    assert response["Location"] == "/inbox/"


@pytest.mark.parametrize(
    "code",
    # Superscripts are digits but not decimal; a wrong code in Arabic-Indic or full-width.
    ["", "abc", "1234567", "x" * 500, "12 34 5", "\u00b2" * 6, "\u0661" * 6, "\uff11" * 6],
)
def test_bad_codes_are_refused_with_a_message(acme: TenantSetup, code: str) -> None:
    _enrol(acme.client(acme.admin))
    client = _password(acme, "admin@acme.test")
    response = client.post("/accounts/login/code/", {"code": code})
    assert response.status_code == 400
    assert b"not right" in response.content


def test_wrong_codes_are_limited_like_passwords(acme: TenantSetup, settings: object) -> None:
    settings.HELPDESK_RATELIMIT_LOGIN_ACCOUNT = "3/15 minutes"  # type: ignore[attr-defined]
    totp, _ = _enrol(acme.client(acme.admin))
    client = _password(acme, "admin@acme.test")
    for _ in range(3):
        assert client.post("/accounts/login/code/", {"code": "000000"}).status_code == 400
    locked = client.post("/accounts/login/code/", {"code": _next_step_code(totp)})
    assert locked.status_code == 429


def test_bad_enrolment_code_is_refused(acme: TenantSetup) -> None:
    client = acme.client(acme.admin)
    client.get("/accounts/two-factor/")
    for code in ("", "000000", "not-a-code"):
        response = client.post("/accounts/two-factor/", {"action": "enable", "code": code})
        assert response.status_code == 400
    assert not TwoFactorDevice.objects.filter(user=acme.admin.user).exists()
    assert client.post("/accounts/two-factor/", {"action": "bogus"}).status_code == 400


def test_member_turns_it_off_with_their_password(acme: TenantSetup) -> None:
    client = acme.client(acme.admin)
    _enrol(client)
    wrong = client.post("/accounts/two-factor/", {"action": "disable", "password": "nope"})
    assert wrong.status_code == 400
    assert TwoFactorDevice.objects.filter(user=acme.admin.user).exists()
    client.post("/accounts/two-factor/", {"action": "disable", "password": PASSWORD})
    assert not TwoFactorDevice.objects.filter(user=acme.admin.user).exists()
    assert not RecoveryCode.objects.filter(user=acme.admin.user).exists()
    # Signing in is one step again.
    again = acme.client().post(
        "/accounts/login/", {"email": "admin@acme.test", "password": PASSWORD}
    )
    assert again["Location"] == "/inbox/"


def test_new_recovery_codes_replace_the_old(acme: TenantSetup) -> None:
    client = acme.client(acme.admin)
    _, old = _enrol(client)
    page = client.post("/accounts/two-factor/", {"action": "new_codes", "password": PASSWORD})
    new = CODES_RE.findall(page.content.decode())
    assert len(new) == 10
    assert not set(new) & set(old)
    login = _password(acme, "admin@acme.test")
    assert login.post("/accounts/login/code/", {"code": old[0]}).status_code == 400


def test_tenant_requirement_makes_members_enrol_first(acme: TenantSetup) -> None:
    agent = make_member(acme.tenant, MembershipRole.AGENT)
    admin = acme.client(acme.admin)
    page = admin.get("/accounts/team/").content.decode()
    title = page[page.index("<title>") : page.index("</title>")]
    assert "Security" not in title
    assert page.count('id="security"') == 1
    assert 'name="require_two_factor"' in page[page.index('id="security"') :]
    admin.post("/accounts/team/", {"action": "security", "require_two_factor": "on"})
    acme.tenant.refresh_from_db()
    assert acme.tenant.require_two_factor
    # A session opened before: sent to set it up, the API refused.
    assert admin.get("/inbox/")["Location"] == "/accounts/two-factor/"
    assert admin.get("/api/v1/tickets/").status_code == 403
    # A new sign-in without a device: set it up, then the session opens.
    client = acme.client()
    response = client.post("/accounts/login/", {"email": agent.user.email, "password": PASSWORD})
    assert response["Location"] == "/accounts/two-factor/"
    assert client.get("/inbox/").status_code == 302
    _enrol(client)
    assert client.get("/inbox/").status_code == 200
    with tenant_context(acme.id):
        assert AuditEvent.objects.filter(
            action=AuditAction.SETTINGS_CHANGED, target_type="security"
        ).exists()


def test_api_tokens_need_no_code(acme: TenantSetup) -> None:
    api = acme.api_client()
    assert api.patch(
        "/api/v1/security/", {"require_two_factor": True}, content_type="application/json"
    ).json() == {"require_two_factor": True}
    assert api.get("/api/v1/tickets/").status_code == 200


def test_security_api_is_for_admins_and_checks_input(acme: TenantSetup) -> None:
    agent = make_member(acme.tenant, MembershipRole.AGENT)
    assert acme.api_client(agent).get("/api/v1/security/").status_code == 403
    api = acme.api_client()
    bad = api.patch(
        "/api/v1/security/", {"require_two_factor": "maybe"}, content_type="application/json"
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["fields"]
    assert api.get("/api/v1/security/").json() == {"require_two_factor": False}


def test_admin_resets_a_member_and_cross_tenant_is_404(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    agent = make_member(acme.tenant, MembershipRole.AGENT)
    _enrol(acme.client(agent))
    other = globex.api_client()
    assert other.post(f"/api/v1/members/{agent.id}/two-factor/reset/").status_code == 404
    assert (
        acme.api_client(agent)
        .post(f"/api/v1/members/{acme.admin.id}/two-factor/reset/")
        .status_code
        == 403
    )
    api = acme.api_client()
    assert api.post(f"/api/v1/members/{agent.id}/two-factor/reset/").status_code == 204
    assert not TwoFactorDevice.objects.filter(user=agent.user).exists()
    assert api.post(f"/api/v1/members/{agent.id}/two-factor/reset/").status_code == 409
    with tenant_context(acme.id):
        event = AuditEvent.objects.get(action=AuditAction.TWO_FACTOR_RESET)
        assert event.actor_id == acme.admin.id
        assert event.target_label == agent.user.email


def test_team_page_resets_a_member(acme: TenantSetup) -> None:
    agent = make_member(acme.tenant, MembershipRole.AGENT)
    _enrol(acme.client(agent))
    admin = acme.client(acme.admin)
    assert b'value="reset_two_factor"' in admin.get("/accounts/team/").content
    admin.post("/accounts/team/", {"action": "reset_two_factor", "member": str(agent.id)})
    assert not TwoFactorDevice.objects.filter(user=agent.user).exists()


def test_switching_tenants_keeps_the_second_factor(acme: TenantSetup, globex: TenantSetup) -> None:
    from helpdesk.accounts import handoff
    from helpdesk.accounts import services as account_services

    account_services.add_member(
        tenant=globex.tenant, user=acme.admin.user, role=MembershipRole.AGENT
    )
    globex.tenant.require_two_factor = True
    globex.tenant.save(update_fields=["require_two_factor"])
    token = handoff.make_token(user_id=acme.admin.user.id, tenant_id=globex.tenant.id)
    # Without a device, the requiring tenant asks for one before the session opens.
    client = globex.client()
    response = client.get(f"/accounts/handoff/?token={token}")
    assert response["Location"] == "/accounts/two-factor/"
    assert client.get("/inbox/").status_code == 302


def test_platform_staff_must_set_it_up(db: None) -> None:
    from helpdesk.accounts.models import User

    User.objects.create_user("staff@ops.test", PASSWORD, is_staff=True)
    client = Client(HTTP_HOST="localhost")
    response = client.post("/accounts/login/", {"email": "staff@ops.test", "password": PASSWORD})
    assert response["Location"] == "/accounts/two-factor/"
    totp, _ = _enrol(client)
    later = Client(HTTP_HOST="localhost")
    step = later.post("/accounts/login/", {"email": "staff@ops.test", "password": PASSWORD})
    assert step["Location"] == "/accounts/login/code/"
    assert later.post("/accounts/login/code/", {"code": _next_step_code(totp)}).status_code == 302


def test_a_new_member_of_a_requiring_tenant_sets_it_up_after_accepting(
    acme: TenantSetup,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    acme.tenant.require_two_factor = True
    acme.tenant.save(update_fields=["require_two_factor"])
    with django_capture_on_commit_callbacks(execute=True):
        acme.api_client().post(
            "/api/v1/members/",
            {"email": "nina@example.test", "role": "agent"},
            content_type="application/json",
        )
    link = re.search(
        r"http://acme\.localhost(/accounts/invitations/\S+/)", str(mail.outbox[-1].body)
    )
    assert link
    client = acme.client()
    accepted = client.post(
        link.group(1),
        {"name": "Nina", "password1": "a-long-new-pass-1", "password2": "a-long-new-pass-1"},
    )
    assert accepted["Location"] == "/accounts/two-factor/"
    assert client.get("/inbox/").status_code == 302
    _enrol(client)
    assert client.get("/inbox/").status_code == 200
