"""Ticket configuration: the service rules (priorities, types, statuses, custom fields and
their values), the admin pages, the API with its permissions, and tenant isolation."""

from __future__ import annotations

import pytest
from pytest_django import DjangoAssertNumQueries

from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import MembershipRole
from tests.conftest import TenantSetup
from tests.factories.accounts import make_member
from tests.factories.tickets import make_ticket
from tickets.configuration import services as configuration
from tickets.errors import ConfigurationInvalid, CustomFieldInvalid
from tickets.models import CustomField, CustomStatus, TicketType, WorkspaceSettings

# --- Service rules ---------------------------------------------------------------------


def test_defaults_without_a_settings_row(tenant: TenantSetup) -> None:
    settings = configuration.get_settings()
    assert settings.auto_assign_on_open is False  # viewing is not owning
    assert settings.auto_solve_waiting_days == 0
    assert settings._state.adding  # unsaved: no row until an admin changes something
    assert not WorkspaceSettings.objects.exists()
    assert [level.value for level in configuration.priority_levels()] == [
        "low",
        "normal",
        "high",
        "urgent",
    ]


@pytest.mark.parametrize(
    "values",
    [
        ["low", "normal"],
        ["low", "normal", "high", "urgent", "critical", "low"],
        [],
    ],
)
def test_priorities_need_three_to_five_levels(tenant: TenantSetup, values: list[str]) -> None:
    with pytest.raises(ConfigurationInvalid, match="3 to 5"):
        configuration.update_settings(priorities=[{"value": v, "label": ""} for v in values])


def test_priorities_need_normal_known_levels_and_no_repeats(tenant: TenantSetup) -> None:
    with pytest.raises(ConfigurationInvalid, match="normal"):
        configuration.update_settings(priorities=[{"value": v} for v in ("low", "high", "urgent")])
    with pytest.raises(ConfigurationInvalid, match="Unknown priority 'severe'"):
        configuration.update_settings(
            priorities=[{"value": v} for v in ("low", "normal", "severe")]
        )
    with pytest.raises(ConfigurationInvalid, match="once"):
        configuration.update_settings(
            priorities=[{"value": v} for v in ("low", "normal", "normal")]
        )
    assert not WorkspaceSettings.objects.exists()


def test_priorities_are_put_in_scale_order_with_labels(tenant: TenantSetup) -> None:
    settings = configuration.update_settings(
        priorities=[
            {"value": "critical", "label": "  P1  "},
            {"value": "normal", "label": "P3"},
            {"value": "high", "label": ""},
        ]
    )
    assert settings.priorities == [
        {"value": "normal", "label": "P3"},
        {"value": "high", "label": "High"},
        {"value": "critical", "label": "P1"},
    ]
    levels = configuration.priority_levels()
    assert [(level.value, level.label) for level in levels] == [
        ("normal", "P3"),
        ("high", "High"),
        ("critical", "P1"),
    ]
    # Changing one setting leaves the other alone.
    configuration.update_settings(auto_assign_on_open=False)
    settings = configuration.get_settings()
    assert settings.auto_assign_on_open is False
    assert len(settings.priorities) == 3
    assert WorkspaceSettings.objects.count() == 1


def test_ticket_type_names_are_unique_case_insensitively(tenant: TenantSetup) -> None:
    question = configuration.save_ticket_type(name="  Question  ")
    assert question.name == "Question"
    with pytest.raises(ConfigurationInvalid, match="already a ticket type named 'QUESTION'"):
        configuration.save_ticket_type(name="QUESTION")
    with pytest.raises(ConfigurationInvalid, match="needs a name"):
        configuration.save_ticket_type(name="   ")
    with pytest.raises(ConfigurationInvalid, match="position"):
        configuration.save_ticket_type(name="Bug", position=-1)
    renamed = configuration.save_ticket_type(
        ticket_type=question, name="question", is_active=False, position=3
    )
    assert (renamed.name, renamed.is_active, renamed.position) == ("question", False, 3)
    configuration.save_ticket_type(name="Bug", position=1)
    assert [t.name for t in configuration.list_ticket_types()] == ["Bug", "question"]
    assert [t.name for t in configuration.list_ticket_types(active_only=True)] == ["Bug"]


def test_status_names_are_unique_and_map_onto_a_base_status(tenant: TenantSetup) -> None:
    status = configuration.save_custom_status(name="Waiting on engineering", base_status="on_hold")
    assert status.base_status == "on_hold"
    with pytest.raises(ConfigurationInvalid, match="already a status"):
        configuration.save_custom_status(name="waiting ON engineering", base_status="open")
    with pytest.raises(ConfigurationInvalid, match="maps onto one of"):
        configuration.save_custom_status(name="Pending", base_status="pending")
    with pytest.raises(ConfigurationInvalid, match="needs a name"):
        configuration.save_custom_status(name="", base_status="open")
    for built_in in ("Open", "on hold", "ON_HOLD", "Waiting on customer"):
        with pytest.raises(ConfigurationInvalid, match="is a built-in status"):
            configuration.save_custom_status(name=built_in, base_status="open")
    configuration.save_custom_status(
        custom_status=status, name="Escalated", base_status="open", is_active=False
    )
    status.refresh_from_db()
    assert (status.name, status.base_status, status.is_active) == ("Escalated", "open", False)
    assert list(configuration.list_custom_statuses(active_only=True)) == []


def test_select_field_needs_options_and_key_comes_from_the_label(tenant: TenantSetup) -> None:
    with pytest.raises(ConfigurationInvalid, match="at least one option"):
        configuration.save_custom_field(
            target="ticket", label="Plan", type="select", options=["", "  "]
        )
    plan = configuration.save_custom_field(
        target="ticket", label="Plan tier", type="select", options=[" Free ", "Pro", "Pro", ""]
    )
    assert plan.key == "plan_tier"
    assert plan.options == ["Free", "Pro"]
    text = configuration.save_custom_field(
        target="contact", label="Notes", type="text", options=["ignored"]
    )
    assert text.options == []
    with pytest.raises(ConfigurationInvalid, match="type is one of"):
        configuration.save_custom_field(target="ticket", label="X", type="color")
    with pytest.raises(ConfigurationInvalid, match="belongs to one of"):
        configuration.save_custom_field(target="order", label="X", type="text")
    with pytest.raises(ConfigurationInvalid, match="already a ticket field 'plan_tier'"):
        configuration.save_custom_field(target="ticket", label="Plan tier!", type="text")
    # The same key on another target is another field.
    configuration.save_custom_field(target="company", label="Plan tier", type="text")


def test_field_key_and_type_are_fixed_after_create(tenant: TenantSetup) -> None:
    field = configuration.save_custom_field(
        target="ticket", label="Order", key="order_id", type="number"
    )
    with pytest.raises(ConfigurationInvalid, match="type cannot change"):
        configuration.save_custom_field(field=field, target="ticket", label="Order", type="text")
    with pytest.raises(ConfigurationInvalid, match="key cannot change"):
        configuration.save_custom_field(
            field=field, target="ticket", label="Order", type="number", key="order"
        )
    configuration.save_custom_field(
        field=field,
        target="ticket",
        label="Order number",
        type="number",
        is_required=True,
        position=2,
    )
    field.refresh_from_db()
    assert (field.key, field.type, field.label, field.is_required) == (
        "order_id",
        "number",
        "Order number",
        True,
    )


@pytest.fixture
def fields(tenant: TenantSetup) -> list[CustomField]:
    make = configuration.save_custom_field
    return [
        make(target="ticket", label="Note", type="text"),
        make(target="ticket", label="Seats", type="number"),
        make(target="ticket", label="Plan", type="select", options=["Free", "Pro"]),
        make(target="ticket", label="Renewal", type="date"),
        make(target="ticket", label="VIP", type="checkbox"),
        make(target="ticket", label="Region", type="text", is_required=True),
    ]


def test_clean_custom_values_of_every_type(fields: list[CustomField]) -> None:
    cleaned = configuration.clean_custom_values(
        "ticket",
        {
            "note": "  hello  ",
            "seats": " 12 ",
            "plan": "Pro",
            "renewal": "2025-03-01",
            "vip": "on",
            "region": "EU",
        },
    )
    assert cleaned == {
        "note": "hello",
        "seats": 12,
        "plan": "Pro",
        "renewal": "2025-03-01",
        "vip": True,
        "region": "EU",
    }
    assert configuration.clean_custom_values("ticket", {"seats": "2.5"})["seats"] == 2.5
    assert configuration.clean_custom_values("ticket", {"seats": 3})["seats"] == 3
    assert configuration.clean_custom_values("ticket", {"vip": False})["vip"] is False
    assert configuration.clean_custom_values("ticket", {"vip": ""})["vip"] is False
    assert configuration.clean_custom_values("ticket", {"vip": "no"})["vip"] is False


def test_clean_custom_values_merges_and_empty_removes(fields: list[CustomField]) -> None:
    merged = configuration.clean_custom_values(
        "ticket", {"note": "", "seats": "4"}, current={"note": "old", "plan": "Free"}
    )
    assert merged == {"seats": 4, "plan": "Free"}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"seats": "twelve"}, "Seats takes a number"),
        ({"seats": "NaN"}, "Seats takes a number"),
        ({"seats": "Infinity"}, "Seats takes a number"),
        ({"seats": "1e5000"}, "Seats is too large a number"),
        ({"seats": "-1000000000000000"}, "Seats is too large a number"),
        ({"renewal": "01/03/2025"}, r"Renewal takes a date \(YYYY-MM-DD\)"),
        ({"renewal": "2025-02-30"}, "Renewal takes a date"),
        ({"plan": "Enterprise"}, "Plan is one of: Free, Pro"),
        ({"vip": "maybe"}, "VIP is a yes/no field"),
        ({"region": "  "}, "Region is required"),
        ({"colour": "red"}, "Unknown field 'colour'"),
    ],
)
def test_clean_custom_values_refuses_bad_values(
    fields: list[CustomField], values: dict[str, str], message: str
) -> None:
    with pytest.raises(CustomFieldInvalid, match=message) as caught:
        configuration.clean_custom_values("ticket", values)
    assert caught.value.details["field"] == next(iter(values))


def test_inactive_fields_take_no_values(fields: list[CustomField]) -> None:
    note = fields[0]
    configuration.save_custom_field(
        field=note, target="ticket", label="Note", type="text", is_active=False
    )
    with pytest.raises(CustomFieldInvalid, match="Unknown field 'note'"):
        configuration.clean_custom_values("ticket", {"note": "x"})
    # Same position: by label.
    assert [(f.key, v) for f, v in configuration.display_values("ticket", {"seats": 1})] == [
        ("plan", None),
        ("region", None),
        ("renewal", None),
        ("seats", 1),
        ("vip", None),
    ]


# --- Admin pages -----------------------------------------------------------------------


def test_settings_page_renders_with_defaults(acme: TenantSetup) -> None:
    page = acme.client(acme.admin).get("/settings/tickets/")
    assert page.status_code == 200
    for text in (b"Open it and you own it", b"Priorities", b"Ticket types", b"Statuses"):
        assert text in page.content
    assert b'name="auto_assign_on_open" checked' not in page.content
    assert b'name="use_urgent" checked' in page.content
    assert b'name="use_critical" checked' not in page.content
    overview = acme.client(acme.admin).get("/settings/")
    assert b'href="/settings/tickets/"' in overview.content
    assert b'href="/settings/fields/"' in overview.content


def test_settings_page_saves_ownership_and_priorities(acme: TenantSetup) -> None:
    client = acme.client(acme.admin)
    response = client.post("/settings/tickets/ownership/", {"auto_assign_on_open": "on"})
    assert response.status_code == 302
    assert response["Location"] == "/settings/tickets/#ownership"
    response = client.post(
        "/settings/tickets/priorities/",
        {
            "use_low": "on",
            "label_low": "P4",
            "use_normal": "on",
            "label_normal": "P3",
            "use_high": "on",
            "label_high": "P2",
            "use_critical": "on",
            "label_critical": "P1",
            "label_urgent": "not used",
        },
    )
    assert response.status_code == 302
    with tenant_context(acme.id):
        settings = configuration.get_settings()
        assert settings.auto_assign_on_open is True
        assert [level["value"] for level in settings.priorities] == [
            "low",
            "normal",
            "high",
            "critical",
        ]
        assert settings.priorities[-1]["label"] == "P1"
    page = client.get("/settings/tickets/")
    assert b'name="auto_assign_on_open" checked' in page.content
    assert b'value="P1"' in page.content


def test_settings_page_shows_refused_priorities_with_400(acme: TenantSetup) -> None:
    client = acme.client(acme.admin)
    response = client.post(
        "/settings/tickets/priorities/",
        {"use_low": "on", "use_high": "on", "use_urgent": "on", "label_high": "Hot"},
    )
    assert response.status_code == 400
    assert b"must include normal" in response.content
    assert b'value="Hot"' in response.content  # what was posted stays in the form
    too_few = client.post("/settings/tickets/priorities/", {"use_normal": "on"})
    assert too_few.status_code == 400
    assert b"Choose 3 to 5 priority levels." in too_few.content


def test_settings_page_adds_renames_orders_and_deactivates_types(acme: TenantSetup) -> None:
    client = acme.client(acme.admin)
    response = client.post("/settings/tickets/types/", {"name": "Question", "position": "1"})
    assert response.status_code == 302
    client.post("/settings/tickets/types/", {"name": "Incident", "position": "0"})
    duplicate = client.post("/settings/tickets/types/", {"name": "question", "position": "2"})
    assert duplicate.status_code == 400
    assert b"already a ticket type named" in duplicate.content
    blank = client.post("/settings/tickets/types/", {"name": "", "position": "2"})
    assert blank.status_code == 400
    assert b"Name: This field is required." in blank.content
    with tenant_context(acme.id):
        question = TicketType.objects.get(name="Question")
    url = f"/settings/tickets/types/{question.id}/"
    assert client.post(url, {"name": "How-to", "position": "0", "action": "save"}).status_code == (
        302
    )
    assert client.post(url, {"name": "How-to", "action": "deactivate"}).status_code == 302
    clash = client.post(url, {"name": "INCIDENT", "position": "0", "action": "save"})
    assert clash.status_code == 400
    assert b"already a ticket type named" in clash.content
    bad_position = client.post(url, {"name": "How-to", "position": "-3", "action": "save"})
    assert bad_position.status_code == 400
    with tenant_context(acme.id):
        question.refresh_from_db()
        assert (question.name, question.position, question.is_active) == ("How-to", 0, False)
    page = client.get("/settings/tickets/")
    assert b"Activate" in page.content
    assert client.post(url, {"action": "activate"}).status_code == 302
    with tenant_context(acme.id):
        question.refresh_from_db()
        assert question.is_active is True


def test_settings_page_adds_and_edits_statuses(acme: TenantSetup) -> None:
    client = acme.client(acme.admin)
    response = client.post(
        "/settings/tickets/statuses/",
        {"name": "Waiting on engineering", "base_status": "on_hold", "position": "0"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/settings/tickets/#statuses"
    bad = client.post(
        "/settings/tickets/statuses/", {"name": "X", "base_status": "pending", "position": "0"}
    )
    assert bad.status_code == 400
    assert b"Maps onto: Select a valid choice" in bad.content
    duplicate = client.post(
        "/settings/tickets/statuses/",
        {"name": "waiting on ENGINEERING", "base_status": "open", "position": "1"},
    )
    assert duplicate.status_code == 400
    assert b"already a status named" in duplicate.content
    with tenant_context(acme.id):
        status = CustomStatus.objects.get()
    url = f"/settings/tickets/statuses/{status.id}/"
    client.post(url, {"name": "Engineering", "base_status": "waiting", "position": "4"})
    client.post(url, {"action": "deactivate"})
    with tenant_context(acme.id):
        status.refresh_from_db()
        assert (status.name, status.base_status, status.position) == ("Engineering", "waiting", 4)
        assert status.is_active is False
    page = client.get("/settings/tickets/")
    assert b'value="Engineering"' in page.content


def test_custom_field_pages_create_and_edit(acme: TenantSetup) -> None:
    client = acme.client(acme.admin)
    assert client.get("/settings/fields/").status_code == 200
    new_page = client.get("/settings/fields/new/?target=contact")
    assert new_page.status_code == 200
    assert b'<option value="contact" selected>' in new_page.content
    created = client.post(
        "/settings/fields/new/",
        {
            "target": "ticket",
            "label": "Plan tier",
            "key": "",
            "type": "select",
            "options": "Free\r\nPro\r\n\r\nEnterprise",
            "is_required": "on",
            "is_active": "on",
            "position": "2",
        },
    )
    assert created.status_code == 302
    assert created["Location"] == "/settings/fields/#ticket"
    with tenant_context(acme.id):
        field = CustomField.objects.get()
    assert (field.key, field.options, field.is_required) == (
        "plan_tier",
        ["Free", "Pro", "Enterprise"],
        True,
    )
    listing = client.get("/settings/fields/")
    assert b"plan_tier" in listing.content
    assert b"Free, Pro, Enterprise" in listing.content
    edit_page = client.get(f"/settings/fields/{field.id}/")
    assert edit_page.status_code == 200
    assert b'name="key"' not in edit_page.content
    assert b'name="type"' not in edit_page.content
    edited = client.post(
        f"/settings/fields/{field.id}/",
        {
            "label": "Plan",
            "options": "Free\nPro",
            "position": "0",
            # Key and type are not fields of the edit form: posting them changes nothing.
            "key": "other",
            "type": "text",
        },
    )
    assert edited.status_code == 302
    with tenant_context(acme.id):
        field.refresh_from_db()
    assert (field.label, field.key, field.type, field.options) == (
        "Plan",
        "plan_tier",
        "select",
        ["Free", "Pro"],
    )
    assert (field.is_required, field.is_active) == (False, False)


def test_custom_field_pages_show_errors_with_400(acme: TenantSetup) -> None:
    client = acme.client(acme.admin)
    no_options = client.post(
        "/settings/fields/new/",
        {"target": "ticket", "label": "Plan", "type": "select", "options": "", "position": "0"},
    )
    assert no_options.status_code == 400
    assert b"A select field needs at least one option." in no_options.content
    bad_type = client.post(
        "/settings/fields/new/",
        {"target": "ticket", "label": "Plan", "type": "color", "position": "0"},
    )
    assert bad_type.status_code == 400
    assert b"Select a valid choice" in bad_type.content
    client.post(
        "/settings/fields/new/",
        {"target": "ticket", "label": "Plan", "type": "select", "options": "A", "position": "0"},
    )
    duplicate = client.post(
        "/settings/fields/new/",
        {"target": "ticket", "label": "Plan", "type": "text", "position": "0"},
    )
    assert duplicate.status_code == 400
    assert b"already a ticket field" in duplicate.content
    with tenant_context(acme.id):
        field = CustomField.objects.get()
    emptied = client.post(
        f"/settings/fields/{field.id}/", {"label": "Plan", "options": "\n", "position": "0"}
    )
    assert emptied.status_code == 400
    assert b"at least one option" in emptied.content
    no_label = client.post(f"/settings/fields/{field.id}/", {"label": "", "position": "0"})
    assert no_label.status_code == 400


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/settings/tickets/"),
        ("post", "/settings/tickets/ownership/"),
        ("post", "/settings/tickets/priorities/"),
        ("post", "/settings/tickets/types/"),
        ("post", "/settings/tickets/statuses/"),
        ("get", "/settings/fields/"),
        ("get", "/settings/fields/new/"),
        ("post", "/settings/fields/new/"),
    ],
)
def test_pages_are_admin_only(acme: TenantSetup, method: str, url: str) -> None:
    agent = make_member(acme.tenant, MembershipRole.AGENT)
    assert getattr(acme.client(agent), method)(url).status_code == 403
    anonymous = getattr(acme.client(), method)(url)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/accounts/login/")
    with tenant_context(acme.id):
        assert not WorkspaceSettings.objects.exists()  # nothing was written


def test_pages_answer_404_for_another_tenants_rows(acme: TenantSetup, globex: TenantSetup) -> None:
    with tenant_context(globex.id):
        ticket_type = configuration.save_ticket_type(name="Globex type")
        status = configuration.save_custom_status(name="Globex status", base_status="open")
        field = configuration.save_custom_field(target="ticket", label="Secret", type="text")
    client = acme.client(acme.admin)
    type_post = client.post(f"/settings/tickets/types/{ticket_type.id}/", {"action": "deactivate"})
    assert type_post.status_code == 404
    status_post = client.post(f"/settings/tickets/statuses/{status.id}/", {"action": "activate"})
    assert status_post.status_code == 404
    assert client.get(f"/settings/fields/{field.id}/").status_code == 404
    assert b"Globex" not in client.get("/settings/tickets/").content
    assert b"Secret" not in client.get("/settings/fields/").content
    with tenant_context(globex.id):
        ticket_type.refresh_from_db()
        assert ticket_type.is_active is True


# --- API -------------------------------------------------------------------------------


def test_workspace_settings_api(acme: TenantSetup) -> None:
    api = acme.api_client()
    current = api.get("/api/v1/workspace-settings/").json()
    assert current["auto_assign_on_open"] is False
    assert [level["value"] for level in current["priorities"]] == [
        "low",
        "normal",
        "high",
        "urgent",
    ]
    changed = api.patch(
        "/api/v1/workspace-settings/",
        {
            "auto_assign_on_open": False,
            "priorities": [
                {"value": "urgent", "label": "Now"},
                {"value": "normal"},
                {"value": "low", "label": "Later"},
            ],
        },
        content_type="application/json",
    )
    assert changed.status_code == 200
    assert changed.json() == {
        "auto_assign_on_open": False,
        "priorities": [
            {"value": "low", "label": "Later"},
            {"value": "normal", "label": "Normal"},
            {"value": "urgent", "label": "Now"},
        ],
        "satisfaction_enabled": True,
        "satisfaction_delay_hours": 24,
        "auto_solve_waiting_days": 0,
        "retention_months": 0,
        "retention_action": "anonymize",
    }
    # A PATCH of one key keeps the other.
    only_flag = api.patch(
        "/api/v1/workspace-settings/",
        {"auto_assign_on_open": True},
        content_type="application/json",
    ).json()
    assert only_flag["auto_assign_on_open"] is True
    assert len(only_flag["priorities"]) == 3
    refused = api.patch(
        "/api/v1/workspace-settings/",
        {"priorities": [{"value": "low"}, {"value": "high"}]},
        content_type="application/json",
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "configuration_invalid"
    assert "3 to 5" in refused.json()["error"]["message"]
    unknown = api.patch(
        "/api/v1/workspace-settings/",
        {"priorities": [{"value": "severe"}, {"value": "normal"}, {"value": "low"}]},
        content_type="application/json",
    )
    assert unknown.status_code == 400
    assert unknown.json()["error"]["code"] == "invalid"


def test_ticket_types_api(acme: TenantSetup) -> None:
    api = acme.api_client()
    created = api.post(
        "/api/v1/ticket-types/", {"name": "Incident"}, content_type="application/json"
    )
    assert created.status_code == 201
    body = created.json()
    assert (body["name"], body["position"], body["is_active"]) == ("Incident", 0, True)
    duplicate = api.post(
        "/api/v1/ticket-types/", {"name": "INCIDENT"}, content_type="application/json"
    )
    assert duplicate.status_code == 400
    assert duplicate.json()["error"]["code"] == "configuration_invalid"
    missing = api.post("/api/v1/ticket-types/", {}, content_type="application/json")
    assert missing.status_code == 400
    assert "name" in missing.json()["error"]["fields"]
    url = f"/api/v1/ticket-types/{body['id']}/"
    patched = api.patch(url, {"is_active": False}, content_type="application/json")
    assert patched.status_code == 200
    assert (patched.json()["name"], patched.json()["is_active"]) == ("Incident", False)
    negative = api.patch(url, {"position": -1}, content_type="application/json")
    assert negative.status_code == 400
    api.post("/api/v1/ticket-types/", {"name": "Question"}, content_type="application/json")
    assert [t["name"] for t in api.get("/api/v1/ticket-types/").json()] == [
        "Incident",
        "Question",
    ]
    assert [t["name"] for t in api.get("/api/v1/ticket-types/?active=true").json()] == ["Question"]
    assert api.get(url).json()["is_active"] is False


def test_custom_statuses_api(acme: TenantSetup) -> None:
    api = acme.api_client()
    created = api.post(
        "/api/v1/custom-statuses/",
        {"name": "Waiting on engineering", "base_status": "on_hold"},
        content_type="application/json",
    )
    assert created.status_code == 201
    status_id = created.json()["id"]
    bad = api.post(
        "/api/v1/custom-statuses/",
        {"name": "Pending", "base_status": "pending"},
        content_type="application/json",
    )
    assert bad.status_code == 400
    assert "base_status" in bad.json()["error"]["fields"]
    patched = api.patch(
        f"/api/v1/custom-statuses/{status_id}/",
        {"base_status": "waiting", "position": 2},
        content_type="application/json",
    )
    assert patched.status_code == 200
    assert patched.json()["name"] == "Waiting on engineering"
    assert (patched.json()["base_status"], patched.json()["position"]) == ("waiting", 2)
    listed = api.get("/api/v1/custom-statuses/").json()
    assert [s["id"] for s in listed] == [status_id]


def test_custom_fields_api(acme: TenantSetup) -> None:
    api = acme.api_client()
    created = api.post(
        "/api/v1/custom-fields/",
        {"target": "ticket", "label": "Plan", "type": "select", "options": ["Free", "Pro"]},
        content_type="application/json",
    )
    assert created.status_code == 201
    field = created.json()
    assert (field["key"], field["options"], field["is_active"]) == ("plan", ["Free", "Pro"], True)
    api.post(
        "/api/v1/custom-fields/",
        {"target": "contact", "label": "Shoe size", "key": "shoe", "type": "number"},
        content_type="application/json",
    )
    no_options = api.post(
        "/api/v1/custom-fields/",
        {"target": "ticket", "label": "Tier", "type": "select"},
        content_type="application/json",
    )
    assert no_options.status_code == 400
    assert no_options.json()["error"]["message"] == "A select field needs at least one option."
    assert [f["key"] for f in api.get("/api/v1/custom-fields/").json()] == ["plan", "shoe"]
    assert [f["key"] for f in api.get("/api/v1/custom-fields/?target=contact").json()] == ["shoe"]
    assert api.get("/api/v1/custom-fields/?target=order").status_code == 400
    url = f"/api/v1/custom-fields/{field['id']}/"
    patched = api.patch(
        url,
        {"label": "Plan tier", "options": ["Free", "Pro", "Enterprise"], "is_active": False},
        content_type="application/json",
    )
    assert patched.status_code == 200
    assert patched.json()["options"] == ["Free", "Pro", "Enterprise"]
    assert api.get("/api/v1/custom-fields/?target=ticket&active=true").json() == []
    for change in ({"type": "text"}, {"key": "tier"}):
        fixed = api.patch(url, change, content_type="application/json")
        assert fixed.status_code == 400
        assert fixed.json()["error"]["code"] == "configuration_invalid"
    same = api.patch(url, {"key": "plan", "type": "select"}, content_type="application/json")
    assert same.status_code == 200


def test_agents_read_the_definitions_but_only_admins_write(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        ticket_type = configuration.save_ticket_type(name="Question")
        status = configuration.save_custom_status(name="Escalated", base_status="open")
        field = configuration.save_custom_field(target="ticket", label="Plan", type="text")
    agent = acme.api_client(make_member(acme.tenant, MembershipRole.AGENT))
    light = acme.api_client(make_member(acme.tenant, MembershipRole.LIGHT_AGENT))
    for client in (agent, light):
        for url in (
            "/api/v1/workspace-settings/",
            "/api/v1/ticket-types/",
            f"/api/v1/ticket-types/{ticket_type.id}/",
            "/api/v1/custom-statuses/",
            f"/api/v1/custom-statuses/{status.id}/",
            "/api/v1/custom-fields/?target=ticket",
            f"/api/v1/custom-fields/{field.id}/",
        ):
            assert client.get(url).status_code == 200, url
        writes = [
            ("post", "/api/v1/ticket-types/", {"name": "Bug"}),
            ("patch", f"/api/v1/ticket-types/{ticket_type.id}/", {"is_active": False}),
            ("post", "/api/v1/custom-statuses/", {"name": "X", "base_status": "open"}),
            ("patch", f"/api/v1/custom-statuses/{status.id}/", {"name": "Y"}),
            ("post", "/api/v1/custom-fields/", {"target": "ticket", "label": "Z", "type": "text"}),
            ("patch", f"/api/v1/custom-fields/{field.id}/", {"label": "Q"}),
            ("patch", "/api/v1/workspace-settings/", {"auto_assign_on_open": True}),
        ]
        for method, url, body in writes:
            response = getattr(client, method)(url, body, content_type="application/json")
            assert response.status_code == 403, url
            assert response.json()["error"]["code"] == "permission_denied"
    assert acme.client().get("/api/v1/ticket-types/").status_code == 401
    with tenant_context(acme.id):
        assert TicketType.objects.count() == 1
        assert configuration.get_settings().auto_assign_on_open is False


def test_api_answers_404_for_another_tenants_rows(acme: TenantSetup, globex: TenantSetup) -> None:
    with tenant_context(globex.id):
        ticket_type = configuration.save_ticket_type(name="Globex type")
        status = configuration.save_custom_status(name="Globex status", base_status="open")
        field = configuration.save_custom_field(target="ticket", label="Secret", type="text")
        configuration.update_settings(auto_assign_on_open=True)
    api = acme.api_client()
    for url in (
        f"/api/v1/ticket-types/{ticket_type.id}/",
        f"/api/v1/custom-statuses/{status.id}/",
        f"/api/v1/custom-fields/{field.id}/",
    ):
        assert api.get(url).status_code == 404
        patched = api.patch(url, {"is_active": False}, content_type="application/json")
        assert patched.status_code == 404
        assert patched.json()["error"]["code"].endswith("_not_found")
    assert api.get("/api/v1/ticket-types/").json() == []
    assert api.get("/api/v1/custom-statuses/").json() == []
    assert api.get("/api/v1/custom-fields/").json() == []
    assert api.get("/api/v1/workspace-settings/").json()["auto_assign_on_open"] is False
    # Globex's own token sees its rows, and acme's attempts changed nothing.
    assert globex.api_client().get(f"/api/v1/ticket-types/{ticket_type.id}/").json()["is_active"]


def test_openapi_schema_documents_the_configuration_api(acme: TenantSetup) -> None:
    schema = acme.client().get("/api/schema/")
    assert schema.status_code == 200
    for path in (
        b"/api/v1/workspace-settings/",
        b"/api/v1/ticket-types/",
        b"/api/v1/ticket-types/{type_id}/",
        b"/api/v1/custom-statuses/",
        b"/api/v1/custom-statuses/{status_id}/",
        b"/api/v1/custom-fields/",
        b"/api/v1/custom-fields/{field_id}/",
    ):
        assert path in schema.content, path
    for component in (b"WorkspaceSettingsOutput", b"CustomFieldCreateInput", b"TicketTypeOutput"):
        assert component in schema.content


def test_renamed_priority_levels_show_in_the_inbox_and_the_sla_pages(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        configuration.update_settings(
            priorities=[
                {"value": "low", "label": "P4"},
                {"value": "normal", "label": "P3"},
                {"value": "high", "label": "P2"},
                {"value": "urgent", "label": "P1 Emergency"},
            ]
        )
        make_ticket(subject="Server down", priority="urgent")
    client = acme.client(acme.admin)
    inbox = client.get("/inbox/").content.decode()
    assert 'priority-urgent">P1 Emergency</span>' in inbox
    form = client.get("/settings/sla/").content.decode()
    assert "P1 Emergency" in form
    assert ">Urgent<" not in form


def test_two_fields_of_one_target_cannot_share_a_label(tenant: TenantSetup) -> None:
    configuration.save_custom_field(target="ticket", label="Product", type="text")
    with pytest.raises(ConfigurationInvalid, match="already a ticket field labelled 'product'"):
        configuration.save_custom_field(target="ticket", label="product", type="text", key="p2")
    configuration.save_custom_field(target="contact", label="Product", type="text")  # other target


class _Undone(Exception):
    pass


def _change_then_roll_back(setup: TenantSetup) -> None:
    with tenant_context(setup.id):
        configuration.update_settings(actor=setup.admin, satisfaction_enabled=False)
        assert configuration.get_settings().satisfaction_enabled is False  # its own change
        raise _Undone


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_change_leaves_later_transactions_reading_the_cache(
    acme: TenantSetup, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    with pytest.raises(_Undone):
        _change_then_roll_back(acme)
    with tenant_context(acme.id):
        assert configuration.get_settings().satisfaction_enabled is True
        with django_assert_num_queries(0):  # cached by the read above
            assert configuration.get_settings().satisfaction_enabled is True
        configuration.update_settings(actor=acme.admin, satisfaction_enabled=False)
        # Changed in this transaction: read from the database until it commits.
        with django_assert_num_queries(4):
            assert configuration.get_settings().satisfaction_enabled is False
    with tenant_context(acme.id), django_assert_num_queries(4):  # the commit emptied it
        assert configuration.get_settings().satisfaction_enabled is False
