"""The rules admin page: build a rule from rows, see it in words, errors with a message,
the form buttons without JavaScript, enable and disable, move and reorder, the dry run;
admins only, and another tenant's rules are a 404."""

from __future__ import annotations

from typing import Any

import pytest

from automation.models import Rule
from automation.rules import services
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import Membership, MembershipRole
from tests.conftest import TenantSetup
from tests.factories.accounts import make_member
from tests.factories.tickets import make_ticket
from tickets.models import Message


@pytest.fixture
def adebayo(acme: TenantSetup) -> Membership:
    with tenant_context(acme.id):
        return make_member(acme.tenant, MembershipRole.AGENT, name="Adebayo Refunds")


def make_rule(setup: TenantSetup, name: str, **fields: Any) -> Rule:
    fields.setdefault("actions", [{"action": "add_tags", "value": [name.lower()]}])
    with tenant_context(setup.id):
        return services.create_rule(actor=setup.admin, name=name, **fields)


def builder_post(adebayo: Membership, **extra: str) -> dict[str, Any]:
    return {
        "name": "Refunds",
        "trigger": "ticket_created",
        "match": "all",
        "conditions-0-field": "subject",
        "conditions-0-operator": "contains",
        "conditions-0-value": "refund",
        "conditions-1-field": "priority",
        "conditions-1-operator": "in",
        "conditions-1-value": ["high", "urgent"],
        "conditions-2-field": "",
        "actions-0-action": "assign_to",
        "actions-0-value": str(adebayo.id),
        "actions-1-action": "add_tags",
        "actions-1-value": "refund, money",
        "actions-2-action": "",
        "is_active": "on",
        **extra,
    }


def test_admin_builds_a_rule_from_rows(acme: TenantSetup, adebayo: Membership) -> None:
    client = acme.client(acme.admin)
    page = client.get("/settings/rules/")
    assert page.status_code == 200
    assert "No rules yet" in page.content.decode()
    response = client.post("/settings/rules/", builder_post(adebayo))
    assert response.status_code == 302
    with tenant_context(acme.id):
        saved = Rule.objects.get()
    assert saved.conditions == [
        {"field": "subject", "operator": "contains", "value": "refund"},
        {"field": "priority", "operator": "in", "value": ["high", "urgent"]},
    ]
    assert saved.actions == [
        {"action": "assign_to", "value": str(adebayo.id)},
        {"action": "add_tags", "value": ["refund", "money"]},
    ]
    listed = client.get("/settings/rules/").content.decode()
    assert "Subject contains “refund”; Priority is one of High, Urgent" in listed
    assert "Assign to Adebayo Refunds; Add tags refund, money" in listed
    edit = client.get(f"/settings/rules/{saved.id}/").content.decode()
    assert 'value="refund"' in edit
    assert "Dry run" in edit


def test_a_bad_rule_shows_the_message_and_keeps_the_rows(
    acme: TenantSetup, adebayo: Membership
) -> None:
    client = acme.client(acme.admin)
    response = client.post(
        "/settings/rules/",
        builder_post(
            adebayo, **{"conditions-0-operator": "matches", "conditions-0-value": "(a+)+"}
        ),
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "Condition 1 (subject): the regular expression is refused" in page
    assert 'value="(a+)+"' in page
    with tenant_context(acme.id):
        assert not Rule.objects.exists()


def test_add_and_remove_rows_without_javascript(acme: TenantSetup, adebayo: Membership) -> None:
    client = acme.client(acme.admin)
    added = client.post("/settings/rules/", builder_post(adebayo, add="condition"))
    assert added.status_code == 200
    assert 'name="conditions-2-field"' in added.content.decode()  # the two kept, one blank
    removed = client.post("/settings/rules/", builder_post(adebayo, remove="conditions-0"))
    page = removed.content.decode()
    assert 'value="refund"' not in page.split('id="condition-rows"')[1].split("</fieldset>")[0]
    for odd in ("conditions-\u00b2", "actions-\u00b2"):  # digits, but no row number
        kept = client.post("/settings/rules/", builder_post(adebayo, remove=odd))
        assert kept.status_code == 200
    with tenant_context(acme.id):
        assert not Rule.objects.exists()


def test_enable_disable_move_and_reorder(acme: TenantSetup) -> None:
    first, second, third = (make_rule(acme, name) for name in ("One", "Two", "Three"))
    client = acme.client(acme.admin)
    client.post(f"/settings/rules/{second.id}/toggle/", {"is_active": "0"})
    client.post(f"/settings/rules/{third.id}/move/", {"direction": "up"})
    with tenant_context(acme.id):
        assert not Rule.objects.get(id=second.id).is_active
        assert list(Rule.objects.order_by("position").values_list("name", flat=True)) == [
            "One",
            "Three",
            "Two",
        ]
    fragment = client.post(
        "/settings/rules/reorder/",
        {"ids": [str(second.id), str(third.id), str(first.id)]},
        HTTP_HX_REQUEST="true",
    )
    assert fragment.status_code == 200
    body = fragment.content.decode()
    assert body.index("Two") < body.index("Three") < body.index("One")
    assert "<html" not in body
    refused = client.post(
        "/settings/rules/reorder/", {"ids": [str(first.id)]}, HTTP_HX_REQUEST="true"
    )
    assert refused.status_code == 400
    client.post(f"/settings/rules/{second.id}/toggle/", {"is_active": "1"})
    with tenant_context(acme.id):
        assert Rule.objects.get(id=second.id).is_active


def test_dry_run_on_the_page(acme: TenantSetup, adebayo: Membership) -> None:
    refunds = make_rule(
        acme,
        "Refunds",
        conditions=[{"field": "subject", "operator": "contains", "value": "refund"}],
        actions=[{"action": "assign_to", "value": str(adebayo.id)}],
    )
    with tenant_context(acme.id):
        ticket = make_ticket(subject="A refund, please")
        before = Message.objects.filter(ticket=ticket).count()
    client = acme.client(acme.admin)
    url = f"/settings/rules/{refunds.id}/dry-run/"
    fragment = client.post(url, {"ticket": str(ticket.number)}, HTTP_HX_REQUEST="true")
    body = fragment.content.decode()
    assert f"Matches #{ticket.number}." in body
    assert "Assignee: nobody → Adebayo Refunds" in body
    whole = client.post(url, {"ticket": f"#{ticket.number}"})
    assert "Assignee: nobody → Adebayo Refunds" in whole.content.decode()
    assert "There is no ticket #999" in client.post(url, {"ticket": "999"}).content.decode()
    assert client.post(url, {"ticket": "abc"}).status_code == 400
    assert client.post(url, {"ticket": "\u00b2"}).status_code == 400  # a digit, no number
    with tenant_context(acme.id):
        assert Message.objects.filter(ticket=ticket).count() == before


def test_only_admins_and_only_this_tenants_rules(
    acme: TenantSetup, globex: TenantSetup, adebayo: Membership
) -> None:
    theirs = make_rule(globex, "Theirs")
    agent = acme.client(adebayo)
    assert agent.get("/settings/rules/").status_code == 403
    assert agent.post("/settings/rules/", {"name": "x"}).status_code == 403
    admin = acme.client(acme.admin)
    for path in ("", "toggle/", "move/", "delete/", "dry-run/"):
        url = f"/settings/rules/{theirs.id}/{path}"
        response = admin.post(url, {"is_active": "0", "ticket": "1"}) if path else admin.get(url)
        assert response.status_code == 404, path
    with tenant_context(globex.id):
        assert Rule.objects.get(id=theirs.id).is_active
    assert "Theirs" not in admin.get("/settings/rules/").content.decode()
