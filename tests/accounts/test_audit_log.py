"""The audit log: sign-ins (a refused one kept although its request rolls back), API
tokens, the team, rules and branding, each with who, when and the client's address; the
read-only API and page for admins, filtered by actor, action and dates, paginated; another
tenant's entries never shown; bad filters a 400 with a message."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from departments import services as department_services
from helpdesk.accounts import services as account_services
from helpdesk.tenancy import audit
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import AuditEvent, MembershipRole
from tests.conftest import PASSWORD, TenantSetup
from tests.factories.accounts import make_member
from tickets.configuration import services as configuration

JSON = "application/json"


def entries(setup: TenantSetup, **filters: Any) -> list[AuditEvent]:
    with tenant_context(setup.id):
        return list(AuditEvent.objects.filter(**filters).order_by("id"))


def test_sign_ins_succeeded_and_failed_with_the_address(acme: TenantSetup) -> None:
    client = Client(HTTP_HOST=acme.host, REMOTE_ADDR="203.0.113.5")
    wrong = client.post("/accounts/login/", {"email": "admin@acme.test", "password": "nope"})
    assert wrong.status_code == 400  # refused: the request's transaction rolled back
    stranger = client.post("/accounts/login/", {"email": "who@else.test", "password": "x"})
    assert stranger.status_code == 400
    right = client.post("/accounts/login/", {"email": "admin@acme.test", "password": PASSWORD})
    assert right.status_code == 302
    failed = entries(acme, action="sign_in.failed")
    assert [(e.actor_id, e.actor_email, e.ip_address) for e in failed] == [
        (None, "admin@acme.test", "203.0.113.5"),
        (None, "who@else.test", "203.0.113.5"),
    ]
    succeeded = entries(acme, action="sign_in.succeeded")
    assert [(e.actor_id, e.ip_address, e.details) for e in succeeded] == [
        (acme.admin.id, "203.0.113.5", {"method": "password"})
    ]


def test_tokens_team_rules_and_branding_are_recorded(acme: TenantSetup) -> None:
    api = acme.api_client()  # creates a token: recorded
    with tenant_context(acme.id):
        agent = make_member(acme.tenant, MembershipRole.AGENT)
    invited = api.post(
        "/api/v1/members/", {"email": "new@acme.test", "role": "agent"}, content_type=JSON
    )
    assert invited.status_code == 201
    changed = api.patch(f"/api/v1/members/{agent.id}/", {"role": "admin"}, content_type=JSON)
    assert changed.status_code == 200, changed.content
    rule = api.post(
        "/api/v1/rules/",
        {"name": "Tag all", "actions": [{"action": "add_tags", "value": ["all"]}]},
        content_type=JSON,
    )
    assert rule.status_code == 201
    assert api.delete(f"/api/v1/rules/{rule.json()['id']}/").status_code == 204
    with tenant_context(acme.id):
        token, _ = account_services.create_api_token(membership=agent, name="CI")
    account_services.revoke_api_token(token=token)
    # Provisioning's own entries (the first department and mailbox) come first.
    actions = [(e.action, e.actor_id) for e in entries(acme) if e.actor_id is not None]
    assert actions == [
        ("api_token.created", acme.admin.id),
        ("member.invited", acme.admin.id),
        ("member.changed", acme.admin.id),
        ("rule.created", acme.admin.id),
        ("rule.deleted", acme.admin.id),
        ("api_token.created", agent.id),
        ("api_token.revoked", agent.id),
    ]
    role_change = entries(acme, action="member.changed")[0]
    assert role_change.details == {"role": {"from": "agent", "to": "admin"}}
    assert role_change.target_label == agent.user.email


def test_the_api_filters_and_pages(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        agent = make_member(acme.tenant, MembershipRole.AGENT)
        for number in range(3):
            audit.record_audit_event(
                action="webhook.created", actor=acme.admin, target_label=f"hook {number}"
            )
        audit.record_audit_event(action="rule.created", actor=agent, target_label="rule")
        old = audit.record_audit_event(action="rule.deleted", actor=None, target_label="old")
        AuditEvent.objects.filter(id=old.id).update(
            created_at=timezone.now() - datetime.timedelta(days=10)
        )
    api = acme.api_client()
    everything = api.get("/api/v1/audit-log/").json()["results"]
    labels = [e["target_label"] for e in everything]
    # Newest id first: the token api_client() made, then the entries above.
    assert everything[0]["action"] == "api_token.created"
    assert labels[1:6] == ["old", "rule", "hook 2", "hook 1", "hook 0"]
    webhooks = api.get("/api/v1/audit-log/?action=webhook").json()["results"]
    assert [e["target_label"] for e in webhooks] == ["hook 2", "hook 1", "hook 0"]
    exact = api.get("/api/v1/audit-log/?action=rule.created").json()["results"]
    assert [(e["target_label"], e["actor"]["id"]) for e in exact] == [("rule", str(agent.id))]
    by_agent = api.get(f"/api/v1/audit-log/?actor={agent.id}").json()["results"]
    assert [e["action"] for e in by_agent] == ["rule.created"]
    today = timezone.now().date()
    recent = api.get(f"/api/v1/audit-log/?since={today - datetime.timedelta(days=1)}").json()
    assert "old" not in [e["target_label"] for e in recent["results"]]
    long_ago = api.get(f"/api/v1/audit-log/?until={today - datetime.timedelta(days=5)}").json()
    assert [e["target_label"] for e in long_ago["results"]] == ["old"]
    first = api.get("/api/v1/audit-log/?page_size=2").json()
    assert len(first["results"]) == 2
    assert first["next"]
    second = api.get(first["next"]).json()
    assert second["results"][0]["id"] not in {e["id"] for e in first["results"]}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("actor=not-a-uuid", "actor"),
        ("action=webhook.exploded", "action"),
        ("since=yesterday", "since"),
        ("since=2026-02-10&until=2026-02-01", "until"),
    ],
)
def test_bad_filters_are_a_400_with_a_message(acme: TenantSetup, query: str, field: str) -> None:
    response = acme.api_client().get(f"/api/v1/audit-log/?{query}")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["message"]
    assert field in error["fields"]
    page = acme.client(acme.admin).get(f"/accounts/audit-log/?{query}")
    assert page.status_code == 400
    assert 'id="audit-errors"' in page.content.decode()


def test_admins_only_and_never_another_tenants(acme: TenantSetup, globex: TenantSetup) -> None:
    with tenant_context(acme.id):
        agent = make_member(acme.tenant, MembershipRole.AGENT)
        audit.record_audit_event(action="webhook.created", actor=acme.admin, target_label="acme")
    assert acme.api_client(agent).get("/api/v1/audit-log/").status_code == 403
    assert acme.client(agent).get("/accounts/audit-log/").status_code == 403
    theirs = globex.api_client().get("/api/v1/audit-log/").json()["results"]
    assert "acme" not in [e["target_label"] for e in theirs]
    assert {e["action"] for e in theirs} <= {"api_token.created", "settings.changed"}
    page = globex.client(globex.admin).get("/accounts/audit-log/")
    assert page.status_code == 200
    assert "acme" not in page.content.decode().replace("acme.test", "")
    # Row-level security: with no tenant set, nothing is read.
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM tenancy_auditevent")
        assert cursor.fetchone() == (0,)


def test_the_page_lists_and_filters(acme: TenantSetup) -> None:
    # Labels with a hyphen, which a CSRF token never holds: "w1" turned up in one.
    with tenant_context(acme.id):
        audit.record_audit_event(
            action="webhook.created", actor=acme.admin, target_label="webhook-one"
        )
        audit.record_audit_event(action="rule.created", actor=acme.admin, target_label="rule-one")
    client = acme.client(acme.admin)
    page = client.get("/accounts/audit-log/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "webhook-one" in html
    assert "rule-one" in html
    filtered = client.get("/accounts/audit-log/?action=rule").content.decode()
    assert "rule-one" in filtered
    assert "webhook-one" not in filtered
    assert client.get("/accounts/audit-log/?before=nope").status_code == 400


def test_configuration_changes_are_recorded(tenant: TenantSetup) -> None:
    admin = tenant.admin
    sales = department_services.create_department(name="Sales", actor=admin)
    department_services.update_department(department=sales, actor=admin, description="Deals")
    mailbox = department_services.create_mailbox(
        address="sales@acme.localhost", department=sales, actor=admin
    )
    department_services.delete_mailbox(mailbox=mailbox, actor=admin)
    configuration.update_settings(actor=admin, satisfaction_delay_hours=2)
    configuration.save_custom_field(target="ticket", label="Order number", type="text", actor=admin)
    department_services.delete_department(department=sales, actor=admin)
    changes = [
        (e.target_type, e.details["change"], e.target_label, e.actor_id)
        for e in AuditEvent.objects.filter(action="settings.changed", actor=admin).order_by("id")
    ]
    # Provisioning made the first department and mailbox: the system's entries.
    provisioned = AuditEvent.objects.filter(action="settings.changed", actor=None)
    assert {e.target_type for e in provisioned} == {"department", "mailbox"}
    assert changes == [
        ("department", "created", "Sales", admin.id),
        ("department", "saved", "Sales", admin.id),
        ("mailbox", "created", "sales@acme.localhost", admin.id),
        ("mailbox", "deleted", "sales@acme.localhost", admin.id),
        ("ticket_settings", "saved", "ticket settings", admin.id),
        ("custom_field", "saved", "Order number", admin.id),
        ("department", "deleted", "Sales", admin.id),
    ]
