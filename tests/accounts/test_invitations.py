"""Invitations (issue 13): nobody is seated without accepting from the mail; the answer to
an invitation says nothing about the address (a login elsewhere, its name there, platform
staff); admins see pending invitations and resend (new link, old one dead) or revoke them;
one tenant's admins never see or touch another's."""

from __future__ import annotations

import datetime
import re
from typing import TYPE_CHECKING, Any

import pytest
import time_machine
from django.core import mail
from django.core.mail import EmailMessage
from pytest_django import DjangoCaptureOnCommitCallbacks

from helpdesk.accounts import selectors as account_selectors
from helpdesk.accounts import services as account_services
from helpdesk.accounts.errors import AlreadyInvited, LoginRequired
from helpdesk.accounts.models import Invitation, InvitationStatus, User
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import Membership, MembershipRole
from tests.conftest import PASSWORD, TenantSetup
from tests.factories.accounts import make_member

if TYPE_CHECKING:
    from tests.conftest import ClientResponse


def _invite(
    setup: TenantSetup,
    email: str,
    on_commit: DjangoCaptureOnCommitCallbacks,
    *,
    role: str = "agent",
    name: str = "",
) -> ClientResponse:
    with on_commit(execute=True):
        return setup.api_client().post(
            "/api/v1/members/",
            {"email": email, "role": role, "name": name},
            content_type="application/json",
        )


def _accept_path(message: EmailMessage, host: str = "acme") -> str:
    link = re.search(rf"http://{host}\.localhost(/accounts/invitations/\S+/)", str(message.body))
    assert link, message.body
    return link.group(1)


def _comparable(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in answer.items() if k not in {"id", "email"} and not k.endswith("_at")}


def test_the_answer_is_the_same_whether_or_not_the_address_has_a_login(
    acme: TenantSetup,
    globex: TenantSetup,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    known = _invite(acme, "admin@globex.test", django_capture_on_commit_callbacks)
    unknown = _invite(acme, "nobody@nowhere.test", django_capture_on_commit_callbacks)
    assert known.status_code == unknown.status_code == 201
    assert _comparable(known.json()) == _comparable(unknown.json())
    assert known.json()["name"] == ""  # not "Globex Admin", the name set in the other tenant
    assert not User.objects.filter(email="nobody@nowhere.test").exists()  # no login made
    assert not Membership.objects.filter(tenant=acme.tenant, user=globex.admin.user).exists()
    listed = acme.api_client().get("/api/v1/invitations/").json()["results"]
    assert {row["email"] for row in listed} == {"admin@globex.test", "nobody@nowhere.test"}
    assert b"Globex Admin" not in acme.api_client().get("/api/v1/invitations/").content
    first, second = (
        re.sub(r"/accounts/invitations/\S+/", "LINK", str(m.body)).replace(m.to[0], "X")
        for m in mail.outbox
    )
    assert first == second


def test_the_team_page_answers_alike_and_shows_no_foreign_name(
    acme: TenantSetup,
    globex: TenantSetup,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    admin = acme.client(acme.admin)
    answers = []
    for email in ("admin@globex.test", "someone@new.test"):
        with django_capture_on_commit_callbacks(execute=True):
            answers.append(
                admin.post(
                    "/accounts/team/",
                    {"action": "invite", "email": email, "name": "", "role": "agent"},
                    follow=True,
                )
            )
    texts = [
        a.content.decode().replace(e, "X")
        for a, e in zip(answers, ("admin@globex.test", "someone@new.test"), strict=True)
    ]
    assert "X is invited; an email is on its way." in texts[1]
    assert "X is invited; an email is on its way." in texts[0]
    page = admin.get("/accounts/team/").content.decode()
    assert "Globex Admin" not in page
    assert "already" not in page
    assert page.count('value="resend"') == page.count('value="revoke"') == 2


def test_a_staff_address_gets_no_special_treatment(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    staff = User.objects.create_user(
        email="ops@platform.test", password=PASSWORD, name="Olga Ops", is_staff=True
    )
    created = _invite(acme, "ops@platform.test", django_capture_on_commit_callbacks)
    assert created.status_code == 201
    assert created.json()["status"] == "pending"
    assert created.json()["name"] == ""
    assert not Membership.objects.filter(user=staff).exists()
    client = acme.client()
    assert (
        client.post(
            "/accounts/login/", {"email": "ops@platform.test", "password": PASSWORD}
        ).status_code
        == 400
    )
    path = _accept_path(mail.outbox[-1])
    assert client.post(path, {"password": "wrong"}).status_code == 400
    assert client.post(path, {"password": PASSWORD}).status_code == 302
    assert Membership.objects.get(user=staff).role == MembershipRole.AGENT


def test_resend_gives_a_new_link_and_kills_the_old_one(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    _invite(acme, "ria@new.test", django_capture_on_commit_callbacks)
    with tenant_context(acme.id):
        invitation = Invitation.objects.get(email="ria@new.test")
    old_path = _accept_path(mail.outbox[-1])
    with django_capture_on_commit_callbacks(execute=True):
        resent = acme.api_client().post(f"/api/v1/invitations/{invitation.id}/resend/")
    assert resent.status_code == 200
    assert resent.json()["status"] == "pending"
    assert len(mail.outbox) == 2
    new_path = _accept_path(mail.outbox[-1])
    assert new_path != old_path
    client = acme.client()
    dead = client.get(old_path)
    assert dead.status_code == 404
    assert b"no longer works" in dead.content
    form = {"password1": "ria-long-pass-9", "password2": "ria-long-pass-9"}
    assert client.post(old_path, form).status_code == 404
    assert client.post(new_path, form).status_code == 302
    assert client.get(new_path).status_code == 404  # single use
    assert acme.api_client().get("/api/v1/invitations/").json()["results"] == []


def test_revoking_kills_the_link(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    _invite(acme, "sam@new.test", django_capture_on_commit_callbacks)
    with tenant_context(acme.id):
        invitation = Invitation.objects.get(email="sam@new.test")
    path = _accept_path(mail.outbox[-1])
    admin = acme.client(acme.admin)
    page = admin.get("/accounts/team/").content.decode()
    assert f'id="invitation-{invitation.id}"' in page
    revoked = admin.post(
        "/accounts/team/", {"action": "revoke", "invitation": str(invitation.id)}, follow=True
    )
    assert b"Invitation to sam@new.test revoked." in revoked.content
    assert f'id="invitation-{invitation.id}"' not in revoked.content.decode()
    form = {"password1": "sam-long-pass-9", "password2": "sam-long-pass-9"}
    assert acme.client().post(path, form).status_code == 404
    assert not User.objects.filter(email="sam@new.test").exists()
    again = acme.api_client().delete(f"/api/v1/invitations/{invitation.id}/")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "invitation_not_pending"
    resend = acme.api_client().post(f"/api/v1/invitations/{invitation.id}/resend/")
    assert resend.status_code == 409


def test_the_api_revokes_with_delete(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    created = _invite(acme, "una@new.test", django_capture_on_commit_callbacks).json()
    api = acme.api_client()
    assert api.get(f"/api/v1/invitations/{created['id']}/").json()["status"] == "pending"
    assert api.delete(f"/api/v1/invitations/{created['id']}/").status_code == 204
    assert api.get(f"/api/v1/invitations/{created['id']}/").json()["status"] == "revoked"
    assert acme.client().get(_accept_path(mail.outbox[-1])).status_code == 404


def test_an_invitation_link_expires_after_seven_days(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    _invite(acme, "late@new.test", django_capture_on_commit_callbacks)
    path = _accept_path(mail.outbox[-1])
    later = datetime.datetime.now(tz=datetime.UTC) + datetime.timedelta(days=7, minutes=1)
    with time_machine.travel(later, tick=False):
        assert acme.client().get(path).status_code == 404
        page = acme.client(acme.admin).get("/accounts/team/").content.decode()
        assert "expired" in page


def test_a_deactivated_member_comes_back_only_by_accepting(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    ben = make_member(acme.tenant, MembershipRole.AGENT, email="ben@acme.test")
    with tenant_context(acme.id):
        account_services.change_member(membership=ben, actor=acme.admin, is_active=False)
    created = _invite(acme, "ben@acme.test", django_capture_on_commit_callbacks, role="admin")
    assert created.status_code == 201
    assert not Membership.objects.get(id=ben.id).is_active
    client = acme.client()
    assert client.post(_accept_path(mail.outbox[-1]), {"password": PASSWORD}).status_code == 302
    seat = Membership.objects.get(id=ben.id)
    assert (seat.is_active, seat.role) == (True, "admin")
    assert client.get("/inbox/").status_code == 200


def test_bad_input_is_refused_with_a_message(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    api = acme.api_client()
    bad_email = api.post(
        "/api/v1/members/", {"email": "not-an-address"}, content_type="application/json"
    )
    assert bad_email.status_code == 400
    assert "email" in bad_email.json()["error"]["fields"]
    bad_role = api.post(
        "/api/v1/members/",
        {"email": "a@new.test", "role": "owner"},
        content_type="application/json",
    )
    assert bad_role.status_code == 400
    assert "role" in bad_role.json()["error"]["fields"]
    _invite(acme, "twice@new.test", django_capture_on_commit_callbacks)
    twice = api.post(
        "/api/v1/members/", {"email": "Twice@New.test"}, content_type="application/json"
    )
    assert twice.status_code == 409
    assert twice.json()["error"]["code"] == "already_invited"
    assert "send it again" in twice.json()["error"]["message"]
    assert api.post("/api/v1/invitations/not-a-uuid/resend/").status_code == 404
    admin = acme.client(acme.admin)
    assert admin.post("/accounts/team/", {"action": "resend", "invitation": "x"}).status_code == 404
    path = _accept_path(mail.outbox[-1])
    client = acme.client()
    differ = client.post(path, {"password1": "one-long-pass-1", "password2": "two-long-pass-2"})
    assert differ.status_code == 400
    assert b"The two passwords differ." in differ.content
    weak = client.post(path, {"password1": "123", "password2": "123"})
    assert weak.status_code == 400
    assert b"too short" in weak.content
    assert client.get("/accounts/invitations/forged-token/").status_code == 404
    agent_api = acme.api_client(make_member(acme.tenant, MembershipRole.AGENT))
    listing = agent_api.get("/api/v1/invitations/")
    assert listing.status_code == 403
    assert listing.json()["error"]["message"]


def test_invitations_are_per_tenant(
    acme: TenantSetup,
    globex: TenantSetup,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    created = _invite(acme, "vic@new.test", django_capture_on_commit_callbacks).json()
    path = _accept_path(mail.outbox[-1])
    other = globex.api_client()
    assert other.get("/api/v1/invitations/").json()["results"] == []
    assert other.get(f"/api/v1/invitations/{created['id']}/").status_code == 404
    assert other.post(f"/api/v1/invitations/{created['id']}/resend/").status_code == 404
    assert other.delete(f"/api/v1/invitations/{created['id']}/").status_code == 404
    other_admin = globex.client(globex.admin)
    for action in ("resend", "revoke"):
        answer = other_admin.post(
            "/accounts/team/", {"action": action, "invitation": created["id"]}
        )
        assert answer.status_code == 404
    assert "vic@new.test" not in other_admin.get("/accounts/team/").content.decode()
    form = {"password1": "vic-long-pass-9", "password2": "vic-long-pass-9"}
    assert globex.client().post(path, form).status_code == 404  # acme's link on globex's host
    assert len(mail.outbox) == 1
    with tenant_context(acme.id):
        assert Invitation.objects.get(id=created["id"]).status == InvitationStatus.PENDING


def test_invite_service_reads_and_creates_no_login(tenant: TenantSetup) -> None:
    invitation = account_services.invite_member(
        tenant=tenant.tenant, email=" New.Person@Example.test ", role="agent", actor=tenant.admin
    )
    assert invitation.email == "new.person@example.test"
    assert not User.objects.filter(email="new.person@example.test").exists()
    with pytest.raises(AlreadyInvited):
        account_services.invite_member(
            tenant=tenant.tenant, email="new.person@example.test", role="admin", actor=tenant.admin
        )
    assert list(account_selectors.list_pending_invitations()) == [invitation]


def test_accepting_as_new_refuses_an_address_whose_login_has_a_password(
    globex: TenantSetup, tenant: TenantSetup
) -> None:
    invitation = account_services.invite_member(
        tenant=tenant.tenant, email="admin@globex.test", role="agent", actor=tenant.admin
    )
    with pytest.raises(LoginRequired):
        account_services.accept_invitation_as_new(
            invitation=invitation, name="Mallory", password="takeover-pass-1"
        )
    user = User.objects.get(email="admin@globex.test")
    assert user.check_password(PASSWORD)
    assert user.name == "Globex Admin"


def test_the_accept_page_counts_wrong_passwords_like_the_login(
    acme: TenantSetup,
    globex: TenantSetup,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    _invite(acme, "admin@globex.test", django_capture_on_commit_callbacks)
    path = _accept_path(mail.outbox[-1])
    client = acme.client()
    for _ in range(10):
        assert client.post(path, {"password": "guess"}).status_code == 400
    locked = client.post(path, {"password": PASSWORD})
    assert locked.status_code == 429
    assert locked["Retry-After"]
    assert not Membership.objects.filter(tenant=acme.tenant, user=globex.admin.user).exists()


def test_the_invitation_list_costs_the_same_for_one_or_many(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    api = acme.api_client()

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert api.get("/api/v1/invitations/").status_code == 200
        return len(queries)

    _invite(acme, "one@new.test", django_capture_on_commit_callbacks)
    one = count()
    for name in ("two", "three", "four"):
        _invite(acme, f"{name}@new.test", django_capture_on_commit_callbacks)
    assert count() == one
    assert len(api.get("/api/v1/invitations/").json()["results"]) == 4


def test_an_old_invitation_cannot_bring_back_a_deactivated_seat(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    """Invited, then seated by other means (the invitation stays pending), then
    deactivated: the old link is dead, so only a new invitation brings the seat back."""
    _invite(acme, "ben@acme.test", django_capture_on_commit_callbacks, role="admin")
    old_path = _accept_path(mail.outbox[-1])
    ben = make_member(acme.tenant, MembershipRole.AGENT, email="ben@acme.test")
    _invite(acme, "eve@acme.test", django_capture_on_commit_callbacks)  # someone else's
    with tenant_context(acme.id):
        account_services.change_member(membership=ben, actor=acme.admin, is_active=False)
        statuses = dict(Invitation.objects.values_list("email", "status"))
    assert statuses == {"ben@acme.test": "revoked", "eve@acme.test": "pending"}
    assert acme.client().post(old_path, {"password": PASSWORD}).status_code == 404
    assert not Membership.objects.get(id=ben.id).is_active
