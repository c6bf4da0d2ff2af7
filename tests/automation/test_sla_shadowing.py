"""An SLA policy placed after a catch-all policy can never apply: the page says so, and
offers to move it before."""

from __future__ import annotations

from automation import selectors, services
from helpdesk.tenancy.context import tenant_context
from tests.conftest import TenantSetup


def test_a_policy_after_a_catch_all_is_warned_about_and_moved(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        default = services.save_sla_policy(
            actor=acme.admin, name="Default", position=0, first_response_minutes=240
        )
        urgent = services.save_sla_policy(
            actor=acme.admin,
            name="Urgent",
            position=1,
            priorities=["urgent"],
            first_response_minutes=30,
        )
        assert selectors.shadowed_policies(list(selectors.list_sla_policies())) == {
            urgent.id: default
        }
    client = acme.client(acme.admin)
    page = client.get("/settings/sla/").content.decode()
    assert "Never applies:" in page
    assert "Move before “Default”" in page
    moved = client.post(f"/settings/sla/{urgent.id}/move/", {"before": str(default.id)})
    assert moved.status_code == 302
    with tenant_context(acme.id):
        assert [p.name for p in selectors.list_sla_policies()] == ["Urgent", "Default"]
        assert selectors.shadowed_policies(list(selectors.list_sla_policies())) == {}
    assert "Never applies:" not in client.get("/settings/sla/").content.decode()


def test_saving_a_hidden_policy_warns(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        services.save_sla_policy(
            actor=acme.admin, name="Default", position=0, first_response_minutes=240
        )
    client = acme.client(acme.admin)
    response = client.post(
        "/settings/sla/",
        {
            "name": "Email",
            "position": "5",
            "is_active": "on",
            "channels": ["email"],
            "first_response_minutes": "60",
        },
        follow=True,
    )
    assert "“Email” can never apply: “Default” comes before it" in response.content.decode()


def test_moving_is_for_admins_and_bad_ids_are_404(acme: TenantSetup, globex: TenantSetup) -> None:
    with tenant_context(globex.id):
        theirs = services.save_sla_policy(
            actor=globex.admin, name="Theirs", position=0, first_response_minutes=60
        )
    with tenant_context(acme.id):
        mine = services.save_sla_policy(
            actor=acme.admin, name="Mine", position=0, first_response_minutes=60
        )
    client = acme.client(acme.admin)
    assert (
        client.post(f"/settings/sla/{theirs.id}/move/", {"before": str(mine.id)}).status_code == 404
    )
    assert client.post(f"/settings/sla/{mine.id}/move/", {"before": "nope"}).status_code == 404
    assert (
        client.post(f"/settings/sla/{mine.id}/move/", {"before": str(theirs.id)}).status_code == 404
    )
