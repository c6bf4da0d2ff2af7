"""The rules API: the contract's forms, list in running order, change, replace, delete,
reorder, dry run, enable and disable; admins only for writes; another tenant's rules and
ids are never reached; bad input is a 400 that says what is wrong, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from automation.models import Rule
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import Membership, MembershipRole
from tests.conftest import TenantSetup
from tests.factories.accounts import make_member
from tests.factories.tickets import make_ticket
from tickets.models import Message, Ticket

JSON = "application/json"


@pytest.fixture
def adebayo(acme: TenantSetup) -> Membership:
    with tenant_context(acme.id):
        return make_member(acme.tenant, MembershipRole.AGENT, name="Adebayo Refunds")


@pytest.fixture
def api(acme: TenantSetup) -> Client:
    return acme.api_client()


def refund_rule(adebayo: Membership, **extra: Any) -> dict[str, Any]:
    return {
        "name": "Refunds",
        "trigger": "ticket_created",
        "match": "all",
        "conditions": [{"field": "subject", "operator": "contains", "value": "refund"}],
        "actions": [
            {"action": "assign_to", "value": str(adebayo.id)},
            {"action": "add_tags", "value": ["refund"]},
        ],
        **extra,
    }


def post(client: Client, path: str, data: Any) -> Any:
    return client.post(path, data, content_type=JSON)


def test_create_read_list_and_the_contract_form(api: Client, adebayo: Membership) -> None:
    response = post(api, "/api/v1/rules/", refund_rule(adebayo))
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["conditions"] == [
        {"field": "subject", "operator": "contains", "value": "refund"}
    ]
    assert created["actions"] == [
        {"action": "assign_to", "value": str(adebayo.id)},
        {"action": "add_tags", "value": ["refund"]},
    ]
    assert (created["position"], created["is_active"], created["stop_processing"]) == (
        0,
        True,
        False,
    )
    second = post(
        api,
        "/api/v1/rules/",
        {"name": "Tag all", "actions": [{"action": "add_tags", "value": ["all"]}]},
    ).json()
    assert (second["trigger"], second["match"], second["conditions"], second["position"]) == (
        "ticket_created",
        "all",
        [],
        1,
    )
    listed = api.get("/api/v1/rules/").json()["results"]
    assert [rule["name"] for rule in listed] == ["Refunds", "Tag all"]
    assert api.get(f"/api/v1/rules/{created['id']}/").json() == created


def test_patch_put_enable_disable_and_delete(api: Client, adebayo: Membership) -> None:
    rule_id = post(api, "/api/v1/rules/", refund_rule(adebayo)).json()["id"]
    url = f"/api/v1/rules/{rule_id}/"
    changed = api.patch(
        url, {"is_active": False, "match": "any", "stop_processing": True}, content_type=JSON
    )
    assert changed.status_code == 200
    assert (changed.json()["is_active"], changed.json()["match"]) == (False, "any")
    replaced = api.put(
        url,
        {"name": "Renamed", "actions": [{"action": "set_priority", "value": "high"}]},
        content_type=JSON,
    ).json()
    assert (replaced["name"], replaced["conditions"], replaced["is_active"]) == (
        "Renamed",
        [],
        True,
    )
    assert api.delete(url).status_code == 204
    assert api.get(url).status_code == 404


def test_reorder(api: Client, adebayo: Membership) -> None:
    ids = [
        post(
            api,
            "/api/v1/rules/",
            {"name": name, "actions": [{"action": "add_tags", "value": [name]}]},
        ).json()["id"]
        for name in ("a", "b", "c")
    ]
    response = post(api, "/api/v1/rules/reorder/", {"ids": [ids[2], ids[0], ids[1]]})
    assert response.status_code == 200
    assert [r["name"] for r in response.json()] == ["c", "a", "b"]
    assert [r["position"] for r in response.json()] == [0, 1, 2]
    assert [r["name"] for r in api.get("/api/v1/rules/").json()["results"]] == ["c", "a", "b"]
    for wrong in ([ids[0], ids[1]], [*ids, ids[0]], ["not-an-id"], "nope"):
        error = post(api, "/api/v1/rules/reorder/", {"ids": wrong})
        assert error.status_code == 400, wrong


def test_dry_run_reports_and_writes_nothing(
    api: Client, acme: TenantSetup, adebayo: Membership
) -> None:
    rule_id = post(api, "/api/v1/rules/", refund_rule(adebayo, is_active=False)).json()["id"]
    with tenant_context(acme.id):
        ticket = make_ticket(subject="Refund please")
        messages = Message.objects.filter(ticket=ticket).count()
    response = post(api, f"/api/v1/rules/{rule_id}/dry-run/", {"ticket": ticket.number})
    assert response.status_code == 200, response.content
    assert response.json() == {
        "matched": True,
        "conditions": [{"condition": "Subject contains “refund”", "met": True}],
        "changes": ["Assignee: nobody → Adebayo Refunds", "Tags: none → refund"],
    }
    with tenant_context(acme.id):
        assert Message.objects.filter(ticket=ticket).count() == messages
        assert Ticket.objects.get(id=ticket.id).assignee_id is None
    assert post(api, f"/api/v1/rules/{rule_id}/dry-run/", {"ticket": 99999}).status_code == 404
    assert post(api, f"/api/v1/rules/{rule_id}/dry-run/", {"ticket": "x"}).status_code == 400
    assert post(api, f"/api/v1/rules/{rule_id}/dry-run/", {}).status_code == 400


def test_agents_read_but_only_admins_write(acme: TenantSetup, adebayo: Membership) -> None:
    admin = acme.api_client()
    rule_id = post(admin, "/api/v1/rules/", refund_rule(adebayo)).json()["id"]
    agent = acme.api_client(adebayo)
    assert agent.get("/api/v1/rules/").status_code == 200
    assert agent.get(f"/api/v1/rules/{rule_id}/").status_code == 200
    assert post(agent, "/api/v1/rules/", refund_rule(adebayo, name="Mine")).status_code == 403
    url = f"/api/v1/rules/{rule_id}/"
    assert agent.patch(url, {"is_active": False}, content_type=JSON).status_code == 403
    assert agent.delete(url).status_code == 403
    assert post(agent, "/api/v1/rules/reorder/", {"ids": [rule_id]}).status_code == 403
    assert post(agent, f"{url}dry-run/", {"ticket": 1}).status_code == 403
    with tenant_context(acme.id):
        assert Rule.objects.get(id=rule_id).is_active


def test_another_tenants_rules_and_ids_are_not_reached(
    acme: TenantSetup, globex: TenantSetup, adebayo: Membership
) -> None:
    theirs = post(globex.api_client(), "/api/v1/rules/", refund_rule_for(globex)).json()["id"]
    api = acme.api_client()
    url = f"/api/v1/rules/{theirs}/"
    assert api.get(url).status_code == 404
    assert api.patch(url, {"name": "Mine now"}, content_type=JSON).status_code == 404
    assert api.delete(url).status_code == 404
    assert post(api, f"{url}dry-run/", {"ticket": 1}).status_code == 404
    assert api.get("/api/v1/rules/").json()["results"] == []
    assert post(api, "/api/v1/rules/reorder/", {"ids": [theirs]}).status_code == 400
    # Their member, department and ticket are nobody here.
    stranger = post(
        api,
        "/api/v1/rules/",
        {"name": "x", "actions": [{"action": "assign_to", "value": str(globex.admin.id)}]},
    )
    assert stranger.status_code == 400
    assert "Action 1 (assign_to)" in stranger.json()["error"]["message"]
    elsewhere = post(
        api,
        "/api/v1/rules/",
        {
            "name": "y",
            "conditions": [
                {"field": "department", "operator": "is", "value": str(globex.department.id)}
            ],
            "actions": [{"action": "set_department", "value": str(globex.department.id)}],
        },
    )
    assert elsewhere.status_code == 400
    with tenant_context(globex.id):
        their_ticket = make_ticket()
    mine = post(api, "/api/v1/rules/", refund_rule(adebayo)).json()["id"]
    only_theirs = post(api, f"/api/v1/rules/{mine}/dry-run/", {"ticket": their_ticket.number})
    assert only_theirs.status_code == 404
    with tenant_context(globex.id):
        assert Rule.objects.get(id=theirs).name == "Refunds"


def refund_rule_for(setup: TenantSetup) -> dict[str, Any]:
    return {
        "name": "Refunds",
        "conditions": [{"field": "subject", "operator": "contains", "value": "refund"}],
        "actions": [{"action": "assign_to", "value": str(setup.admin.id)}],
    }


BAD_RULES: list[tuple[dict[str, Any], str]] = [
    ({"name": "x"}, "actions"),
    ({"name": "x", "actions": []}, "actions"),
    ({"name": "", "actions": [{"action": "add_tags", "value": ["a"]}]}, "name"),
    ({"name": "x", "actions": "add_tags"}, "actions"),
    ({"name": "x", "actions": [{"action": "explode", "value": 1}]}, "action"),
    ({"name": "x", "actions": [["add_tags"]]}, "Action 1"),
    ({"name": "x", "actions": [{"action": "add_tags", "value": "refund"}]}, "Action 1 (add_tags)"),
    ({"name": "x", "actions": [{"action": "add_tags", "value": [1]}]}, "Action 1 (add_tags)"),
    ({"name": "x", "actions": [{"action": "add_tags", "vaule": ["a"]}]}, "unknown key"),
    ({"name": "x", "actions": [{"action": "assign_to", "value": "nobody"}]}, "not a member id"),
    ({"name": "x", "actions": [{"action": "assign_to", "value": 7}]}, "member id"),
    ({"name": "x", "actions": [{"action": "set_priority", "value": "asap"}]}, "asap"),
    ({"name": "x", "actions": [{"action": "add_followers", "value": ["not an address"]}]}, "email"),
    (
        {
            "name": "x",
            "actions": [{"action": "set_custom_field", "value": {"key": "nope", "value": 1}}],
        },
        "custom field",
    ),
    (
        {"name": "x", "actions": [{"action": "add_note", "value": "{{ secret.key }}"}]},
        "placeholder",
    ),
    (
        {"name": "x", "trigger": "sometimes", "actions": [{"action": "add_tags", "value": ["a"]}]},
        "trigger",
    ),
    ({"name": "x", "match": "most", "actions": [{"action": "add_tags", "value": ["a"]}]}, "match"),
    # NUL in texts not cleaned as plain text: jsonb cannot hold it (a 500 before).
    ({"name": "x", "actions": [{"action": "add_tags", "value": ["a\x00"]}]}, "cannot be stored"),
    ({"name": "x", "actions": [{"action": "add_note", "value": "a\x00b"}]}, "cannot be stored"),
]
BAD_CONDITIONS: list[tuple[Any, str]] = [
    ({"field": "colour", "operator": "is", "value": "red"}, "unknown field"),
    ({"field": "subject", "operator": "is", "value": "x"}, "operator"),
    ({"field": "subject", "operator": "contains", "value": ""}, "non-empty"),
    ({"field": "subject", "operator": "contains", "value": {"a": 1}}, "non-empty"),
    ({"field": "subject", "operator": "contains", "value": "x" * 201}, "200"),
    ({"field": "subject", "operator": "matches", "value": "(a+)+$"}, "refused"),
    ({"field": "subject", "operator": "matches", "value": "([a-z]"}, "not a valid"),
    ({"field": "channel", "operator": "is", "value": "pigeon"}, "pigeon"),
    ({"field": "channel", "operator": "in", "value": []}, "non-empty list"),
    ({"field": "sender_domain", "operator": "is", "value": "not a domain"}, "domain"),
    ({"field": "department", "operator": "is", "value": "0" * 32}, "no department"),
    ({"field": "custom_fields.nope", "operator": "is", "value": "x"}, "custom field"),
    ({"field": "custom_fields.", "operator": "is", "value": "x"}, "unknown field"),
    ({"field": "business_hours", "operator": "outside", "value": "soon"}, "business hours id"),
    ({"field": "sla_missed", "operator": "is", "value": "lunch"}, "lunch"),
    ({"field": "tag", "operator": "has", "value": "t" * 61}, "60"),
    ("subject contains refund", "Condition 1"),
    ({"field": "subject", "operator": "contains", "value": "a\x00b"}, "cannot be stored"),
    ({"field": "subject", "operator": "matches", "value": "a\x00b"}, "cannot be stored"),
    ({"field": "tag", "operator": "has", "value": "a\x00"}, "cannot be stored"),
]


@pytest.mark.parametrize(("body", "said"), BAD_RULES)
def test_bad_rules_are_a_400_saying_what_is_wrong(api: Client, body: Any, said: str) -> None:
    response = post(api, "/api/v1/rules/", body)
    assert response.status_code == 400, response.content
    assert said.lower() in response.content.decode().lower()


@pytest.mark.parametrize(("condition", "said"), BAD_CONDITIONS)
def test_bad_conditions_are_a_400_naming_the_condition(
    api: Client, condition: Any, said: str
) -> None:
    body = {
        "name": "x",
        "conditions": [condition],
        "actions": [{"action": "add_tags", "value": ["a"]}],
    }
    response = post(api, "/api/v1/rules/", body)
    assert response.status_code == 400, response.content
    message = response.json()["error"].get("message", "") + str(response.json()["error"])
    assert said.lower() in message.lower()


def test_garbage_bodies_and_ids_are_a_4xx(api: Client, adebayo: Membership) -> None:
    assert api.post("/api/v1/rules/", "{not json", content_type=JSON).status_code == 400
    assert api.post("/api/v1/rules/", "[]", content_type=JSON).status_code == 400
    assert api.get("/api/v1/rules/not-a-uuid/").status_code == 404
    rule_id = post(api, "/api/v1/rules/", refund_rule(adebayo)).json()["id"]
    taken = post(api, "/api/v1/rules/", refund_rule(adebayo, name="REFUNDS"))
    assert taken.status_code == 409
    assert (
        api.patch(f"/api/v1/rules/{rule_id}/", {"position": -1}, content_type=JSON).status_code
        == 400
    )
    assert (
        api.patch(f"/api/v1/rules/{rule_id}/", {"colour": 1}, content_type=JSON).status_code == 400
    )
    assert (
        api.patch(f"/api/v1/rules/{rule_id}/", {"conditions": None}, content_type=JSON).status_code
        == 400
    )


def test_the_openapi_document_lists_the_vocabulary(api: Client) -> None:
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()
    for word in ("/api/v1/rules/reorder/", "dry-run", "sender_domain", "reply_with_template"):
        assert word in schema
