"""The team: admins invite people (an email to choose a password), change roles and
deactivate seats; the last admin and your own seat are protected; a deactivated member's
unsolved tickets go back to the queue. By the Team page and /api/v1/members/."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from django.core import mail
from django.core.mail import EmailMessage
from django.test import Client
from pytest_django import DjangoCaptureOnCommitCallbacks

from helpdesk.accounts import selectors as account_selectors
from helpdesk.accounts import services as account_services
from helpdesk.accounts.errors import AdminRequired
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import Membership, MembershipRole
from tests.conftest import PASSWORD, TenantSetup
from tests.factories.accounts import make_member
from tests.factories.tickets import make_ticket
from tickets.models import Ticket
from tickets.ticket import services as ticket_services

if TYPE_CHECKING:
    from tests.conftest import ClientResponse


def _log_in(setup: TenantSetup, email: str, password: str) -> tuple[Client, ClientResponse]:
    client = setup.client()
    response = client.post("/accounts/login/", {"email": email, "password": password})
    return client, response


def _accept_path(message: EmailMessage) -> str:
    link = re.search(r"http://acme\.localhost(/accounts/invitations/\S+/)", str(message.body))
    assert link, message.body
    return link.group(1)


def test_an_invited_person_chooses_a_password_and_logs_in(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    admin = acme.client(acme.admin)
    assert admin.get("/accounts/team/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        sent = admin.post(
            "/accounts/team/",
            {"action": "invite", "email": "Nina@Acme.test", "name": "Nina Ruiz", "role": "agent"},
        )
    assert sent.status_code == 302
    [invitation] = mail.outbox
    assert invitation.to == ["nina@acme.test"]
    assert invitation.subject.endswith("invited you to the Acme help desk")
    assert "as agent" in invitation.body
    client = acme.client()
    form = client.get(_accept_path(invitation))
    assert b"Choose a password" in form.content
    assert b"Nina Ruiz" in form.content  # the name the admin typed, to correct
    accepted = client.post(
        _accept_path(invitation),
        {"name": "Nina Ruiz", "password1": "nina-picks-this-1", "password2": "nina-picks-this-1"},
    )
    assert accepted["Location"] == "/inbox/"
    assert client.get("/inbox/").status_code == 200
    _, login = _log_in(acme, "nina@acme.test", "nina-picks-this-1")
    assert login.status_code == 302
    again = admin.post(
        "/accounts/team/", {"action": "invite", "email": "nina@acme.test", "role": "admin"}
    )
    assert again.status_code == 400
    assert b"nina@acme.test is already on the team." in again.content.lower()


def test_someone_with_a_login_elsewhere_must_log_in_to_join(
    acme: TenantSetup,
    globex: TenantSetup,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    """Issue 13: inviting an address that has a login seats nobody until the owner of the
    login accepts with its password (before, the seat was given at once)."""
    with django_capture_on_commit_callbacks(execute=True):
        created = acme.api_client().post(
            "/api/v1/members/",
            {"email": "admin@globex.test", "role": "light_agent"},
            content_type="application/json",
        )
    assert created.status_code == 201, created.content
    assert created.json()["role"] == "light_agent"
    assert created.json()["status"] == "pending"
    _, login = _log_in(acme, "admin@globex.test", PASSWORD)
    assert login.status_code == 400  # not on the team yet
    client = acme.client()
    page = client.get(_accept_path(mail.outbox[-1]))
    assert b"already has a login" in page.content
    wrong = client.post(_accept_path(mail.outbox[-1]), {"password": "not-it"})
    assert wrong.status_code == 400
    assert b"That password is incorrect." in wrong.content
    assert not Membership.objects.filter(tenant=acme.tenant, user=globex.admin.user).exists()
    right = client.post(_accept_path(mail.outbox[-1]), {"password": PASSWORD})
    assert right["Location"] == "/inbox/"
    seat = Membership.objects.get(tenant=acme.tenant, user=globex.admin.user)
    assert (seat.role, seat.is_active) == ("light_agent", True)
    _, login = _log_in(acme, "admin@globex.test", PASSWORD)
    assert login.status_code == 302


def test_deactivating_ends_the_login_and_frees_the_tickets(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    agent = make_member(acme.tenant, MembershipRole.AGENT, email="ben@acme.test")
    with tenant_context(acme.id):
        open_one = make_ticket(subject="Still open")
        solved = make_ticket(subject="Done")
        for ticket in (open_one, solved):
            ticket_services.assign_ticket(ticket=ticket, assignee=agent, actor=acme.admin)
        ticket_services.change_status(ticket=solved, status="solved", actor=None)
    ben, _ = _log_in(acme, "ben@acme.test", PASSWORD)
    assert ben.get("/inbox/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        done = acme.client(acme.admin).post(
            "/accounts/team/", {"member": str(agent.id), "action": "deactivate"}
        )
    assert done.status_code == 302
    assert ben.get("/inbox/").status_code in (302, 404)
    _, login = _log_in(acme, "ben@acme.test", PASSWORD)
    assert login.status_code == 400  # refused: the form again
    with tenant_context(acme.id):
        assert Ticket.objects.get(id=open_one.id).assignee_id is None
        assert Ticket.objects.get(id=solved.id).assignee_id == agent.id
    back = acme.client(acme.admin).post(
        "/accounts/team/", {"member": str(agent.id), "action": "activate"}
    )
    assert back.status_code == 302
    _, login = _log_in(acme, "ben@acme.test", PASSWORD)
    assert login.status_code == 302


def test_roles_change_but_never_your_own(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    agent = make_member(acme.tenant, MembershipRole.AGENT)
    api = acme.api_client()
    with tenant_context(acme.id):
        ticket = make_ticket()
        ticket_services.assign_ticket(ticket=ticket, assignee=agent, actor=acme.admin)
    with django_capture_on_commit_callbacks(execute=True):
        demoted = api.patch(
            f"/api/v1/members/{agent.id}/", {"role": "light_agent"}, content_type="application/json"
        )
    assert demoted.json()["role"] == "light_agent"
    with tenant_context(acme.id):
        assert Ticket.objects.get(id=ticket.id).assignee_id is None  # light agents hold none
    own = api.patch(
        f"/api/v1/members/{acme.admin.id}/", {"role": "agent"}, content_type="application/json"
    )
    assert own.status_code == 403
    assert own.json()["error"]["code"] == "own_seat"
    promoted = api.patch(
        f"/api/v1/members/{agent.id}/", {"role": "admin"}, content_type="application/json"
    )
    assert promoted.json()["role"] == "admin"
    agent_api = acme.api_client(make_member(acme.tenant, MembershipRole.AGENT))
    assert agent_api.get("/api/v1/members/").status_code == 200  # everyone reads the team
    changed = agent_api.patch(
        f"/api/v1/members/{agent.id}/", {"role": "agent"}, content_type="application/json"
    )
    assert changed.status_code == 403


def test_the_last_active_admin_cannot_be_demoted_or_deactivated(acme: TenantSetup) -> None:
    """The pages and API never let an admin touch their own seat, so this guards what
    remains: a service caller (a command) demoting the only admin."""
    with tenant_context(acme.id):
        agent = make_member(acme.tenant, MembershipRole.AGENT)
        for change in ({"role": "agent"}, {"is_active": False}):
            with pytest.raises(AdminRequired):
                account_services.change_member(membership=acme.admin, actor=agent, **change)
        other = make_member(acme.tenant, MembershipRole.ADMIN)
        account_services.change_member(membership=acme.admin, actor=other, role="agent")
        assert Membership.objects.get(id=acme.admin.id).role == "agent"


def test_team_pages_and_api_are_per_tenant(acme: TenantSetup, globex: TenantSetup) -> None:
    foreign = make_member(globex.tenant, MembershipRole.AGENT)
    api = acme.api_client()
    assert api.get(f"/api/v1/members/{foreign.id}/").status_code == 404
    assert (
        api.patch(
            f"/api/v1/members/{foreign.id}/", {"role": "admin"}, content_type="application/json"
        ).status_code
        == 404
    )
    emails = {m["email"] for m in api.get("/api/v1/members/").json()["results"]}
    assert foreign.user.email not in emails
    agent = make_member(acme.tenant, MembershipRole.AGENT)
    assert acme.client(agent).get("/accounts/team/").status_code == 403


def test_deactivation_ends_sessions_and_tokens_for_good(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    """Issue 13: reactivating a seat does not bring back the sessions and API tokens it had
    (before, they worked again as soon as the seat was active)."""
    agent = make_member(acme.tenant, MembershipRole.AGENT, email="cal@acme.test")
    account_services.add_member(tenant=globex.tenant, user=agent.user, role="agent")
    logged_in, _ = _log_in(acme, "cal@acme.test", PASSWORD)
    forced = acme.client(agent)  # a session without the seat record (force_login)
    elsewhere = globex.client()
    elsewhere.post("/accounts/login/", {"email": "cal@acme.test", "password": PASSWORD})
    api = acme.api_client(agent)
    for client in (logged_in, forced, api, elsewhere):
        assert client.get("/api/v1/members/").status_code == 200
    admin = acme.api_client()
    for change in (False, True):
        admin.patch(
            f"/api/v1/members/{agent.id}/", {"is_active": change}, content_type="application/json"
        )
    assert Membership.objects.get(id=agent.id).is_active
    for client in (logged_in, forced):
        assert client.get("/inbox/")["Location"].startswith("/accounts/login/")
    assert api.get("/api/v1/members/").status_code == 401
    assert elsewhere.get("/api/v1/members/").status_code == 200  # another tenant's seat
    again, login = _log_in(acme, "cal@acme.test", PASSWORD)
    assert login.status_code == 302
    assert again.get("/inbox/").status_code == 200
    assert acme.api_client(agent).get("/api/v1/members/").status_code == 200  # a new token


def test_the_team_page_deactivation_revokes_too(acme: TenantSetup) -> None:
    agent = make_member(acme.tenant, MembershipRole.AGENT)
    _, key = account_services.create_api_token(membership=agent)
    session = acme.client(agent)
    admin = acme.client(acme.admin)
    for action in ("deactivate", "activate"):
        admin.post("/accounts/team/", {"member": str(agent.id), "action": action})
    assert session.get("/inbox/").status_code == 302
    assert (
        acme.client().get("/api/v1/tickets/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 401
    )
    with tenant_context(acme.id):
        assert not account_selectors.list_member_tokens(agent).exists()


def test_a_password_change_keeps_this_session_and_ends_the_others(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    """Issue 13: a member changes their password on /accounts/password/; Django keeps that
    session, every other one (other devices, other tenants) is over."""
    user = acme.admin.user
    account_services.add_member(tenant=globex.tenant, user=user, role="agent")
    here, _ = _log_in(acme, "admin@acme.test", PASSWORD)
    other_device, _ = _log_in(acme, "admin@acme.test", PASSWORD)
    other_tenant, _ = _log_in(globex, "admin@acme.test", PASSWORD)
    for client in (here, other_device, other_tenant):
        assert client.get("/inbox/").status_code == 200
    wrong = here.post(
        "/accounts/password/",
        {
            "old_password": "nope",
            "new_password1": "n3w-long-pass",
            "new_password2": "n3w-long-pass",
        },
    )
    assert wrong.status_code == 400
    assert b"Your old password was entered incorrectly" in wrong.content
    changed = here.post(
        "/accounts/password/",
        {
            "old_password": PASSWORD,
            "new_password1": "n3w-long-pass",
            "new_password2": "n3w-long-pass",
        },
    )
    assert changed.status_code == 302
    assert here.get("/inbox/").status_code == 200
    for client in (other_device, other_tenant):
        assert client.get("/inbox/")["Location"].startswith("/accounts/login/")


def test_a_role_change_from_a_stale_page_does_not_undo_a_deactivation(acme: TenantSetup) -> None:
    """The admin's page loaded the seat before another admin deactivated it: changing its
    role then must not write back the active flag it had when loaded."""
    ben = make_member(acme.tenant, MembershipRole.AGENT, email="ben@acme.test")
    other_admin = make_member(acme.tenant, MembershipRole.ADMIN, email="other@acme.test")
    with tenant_context(acme.id):
        stale = Membership.objects.in_current_tenant().get(id=ben.id)
        account_services.change_member(membership=ben, actor=other_admin, is_active=False)
        assert stale.is_active
        changed = account_services.change_member(
            membership=stale, actor=acme.admin, role=MembershipRole.LIGHT_AGENT
        )
    assert (changed.role, changed.is_active) == (MembershipRole.LIGHT_AGENT, False)
    seat = Membership.objects.get(id=ben.id)
    assert (seat.role, seat.is_active) == (MembershipRole.LIGHT_AGENT, False)


def test_changing_another_tenants_member_is_not_found(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    from helpdesk.tenancy.errors import MemberNotFound

    stranger = make_member(globex.tenant, MembershipRole.AGENT, email="stranger@globex.test")
    with tenant_context(acme.id), pytest.raises(MemberNotFound):
        account_services.change_member(membership=stranger, actor=acme.admin, is_active=False)
    assert Membership.objects.get(id=stranger.id).is_active
