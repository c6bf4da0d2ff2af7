"""Shifts and leave: weekly hours in the member's time zone (night shifts, daylight saving),
days off; the shift clock that takes members offline when their shift ends and away when
idle, per tenant from a beat sweep; the API under /api/v1/members/<id>/; the admin page of
a member's shift and a department's roster."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pytest_django import Settings

from departments import services as department_services
from departments.models import AgentShift, ShiftLeave
from departments.shifts import selectors, services, tasks
from departments.shifts.errors import InvalidLeave, InvalidShift
from helpdesk.accounts import services as account_services
from helpdesk.accounts.signals import availability_changed
from helpdesk.core.errors import PermissionDenied
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import Membership
from tests.conftest import TenantSetup
from tests.factories.accounts import make_member

UTC = datetime.UTC
WEEKDAYS_9_TO_5 = [{"day": day, "start": "09:00", "end": "17:00"} for day in range(5)]
# Monday 2 March 2026, 10:00 in Berlin (CET, UTC+1).
MONDAY_10_BERLIN = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOUR = datetime.timedelta(hours=1)


@pytest.fixture
def moves() -> Iterator[list[tuple[Any, str, str]]]:
    sent: list[tuple[Any, str, str]] = []

    def receiver(sender: object, **kwargs: Any) -> None:
        sent.append((kwargs["membership_id"], kwargs["previous"], kwargs["availability"]))

    availability_changed.connect(receiver, dispatch_uid="test-shift-moves")
    yield sent
    availability_changed.disconnect(dispatch_uid="test-shift-moves")


def _fresh(member: Membership) -> Membership:
    return Membership.objects.get(id=member.id)


def _hours(member: Membership, at: datetime.datetime) -> selectors.MemberHours:
    return selectors.member_hours([member.id], at)[member.id]


# --- Hours ---------------------------------------------------------------------------


def test_a_shift_counts_in_the_members_time_zone(tenant: TenantSetup) -> None:
    agent = make_member(tenant.tenant)
    services.set_shift(
        membership=agent, timezone="Europe/Berlin", intervals=WEEKDAYS_9_TO_5, actor=None
    )
    at = MONDAY_10_BERLIN
    assert selectors.is_on_shift(agent, at)
    assert not selectors.is_on_shift(agent, at - 2 * HOUR)  # 08:00 in Berlin
    assert not selectors.is_on_shift(agent, at + 7 * HOUR)  # 17:00: the end is not in it
    assert selectors.is_on_shift(agent, at + 7 * HOUR - datetime.timedelta(seconds=1))
    hours = _hours(agent, at)
    assert hours.shift_ends_at(at) == at + 7 * HOUR
    assert hours.next_shift_at(at) is None
    # Friday 17:00 Berlin: off until Monday 09:00 Berlin.
    friday_evening = datetime.datetime(2026, 3, 6, 16, 0, tzinfo=UTC)
    assert hours.next_shift_at(friday_evening) == datetime.datetime(2026, 3, 9, 8, 0, tzinfo=UTC)
    # Summer time: 09:00 Berlin is 07:00 UTC.
    summer = datetime.datetime(2026, 7, 6, 7, 30, tzinfo=UTC)
    assert selectors.is_on_shift(agent, summer)
    assert not selectors.is_on_shift(agent, summer - HOUR)


def test_a_night_shift_across_midnight_is_one_stretch(tenant: TenantSetup) -> None:
    agent = make_member(tenant.tenant)
    night = [
        {"day": 0, "start": "22:00", "end": "24:00"},
        {"day": 1, "start": "00:00", "end": "06:00"},
    ]
    services.set_shift(membership=agent, timezone="UTC", intervals=night, actor=None)
    monday_23 = datetime.datetime(2026, 3, 2, 23, 0, tzinfo=UTC)
    tuesday_midnight = datetime.datetime(2026, 3, 3, 0, 0, tzinfo=UTC)
    hours = _hours(agent, monday_23)
    assert hours.on_shift(monday_23)
    assert hours.on_shift(tuesday_midnight)
    assert hours.shift_ends_at(monday_23) == datetime.datetime(2026, 3, 3, 6, 0, tzinfo=UTC)
    assert not hours.on_shift(datetime.datetime(2026, 3, 3, 6, 0, tzinfo=UTC))
    assert hours.next_shift_at(datetime.datetime(2026, 3, 3, 7, 0, tzinfo=UTC)) == (
        datetime.datetime(2026, 3, 9, 22, 0, tzinfo=UTC)
    )


def test_leave_takes_whole_days_off(tenant: TenantSetup) -> None:
    agent = make_member(tenant.tenant)
    services.set_shift(
        membership=agent, timezone="Europe/Berlin", intervals=WEEKDAYS_9_TO_5, actor=None
    )
    services.add_leave(
        membership=agent,
        starts_on=datetime.date(2026, 3, 2),
        ends_on=datetime.date(2026, 3, 3),
        reason="Dentist",
        actor=None,
    )
    at = MONDAY_10_BERLIN
    assert not selectors.is_on_shift(agent, at)
    assert _hours(agent, at).next_shift_at(at) == datetime.datetime(2026, 3, 4, 8, 0, tzinfo=UTC)
    # Without a shift, leave counts in the tenant's time zone, from midnight to midnight.
    other = make_member(tenant.tenant)
    services.add_leave(
        membership=other,
        starts_on=datetime.date(2026, 3, 2),
        ends_on=datetime.date(2026, 3, 2),
        actor=None,
    )
    assert not selectors.is_on_shift(other, at)
    assert _hours(other, at).next_shift_at(at) == datetime.datetime(2026, 3, 3, 0, 0, tzinfo=UTC)
    # No shift and no leave: always on.
    assert selectors.is_on_shift(make_member(tenant.tenant), at)


@pytest.mark.parametrize(
    ("zone", "intervals", "message"),
    [
        ("Mars/Olympus", WEEKDAYS_9_TO_5, "Unknown time zone 'Mars/Olympus'"),
        ("", WEEKDAYS_9_TO_5, "Unknown time zone ''"),
        ("../../etc/passwd", WEEKDAYS_9_TO_5, "Unknown time zone"),
        ("UTC", [], "A shift needs at least one period"),
        ("UTC", "09:00-17:00", "A shift needs at least one period"),
        ("UTC", ["09:00-17:00"], "Each period is"),
        ("UTC", [{"day": 7, "start": "09:00", "end": "17:00"}], "a day from 0 (Monday) to 6"),
        ("UTC", [{"day": "1", "start": "09:00", "end": "17:00"}], "a day from 0 (Monday) to 6"),
        ("UTC", [{"day": 0, "start": "9am", "end": "17:00"}], "'9am' is not a time of day"),
        ("UTC", [{"day": 0, "start": "09:00", "end": "24:30"}], "not a time of day"),
        ("UTC", [{"day": 0, "start": "17:00", "end": "09:00"}], "must end after it starts"),
        (
            "UTC",
            [
                {"day": 0, "start": "09:00", "end": "13:00"},
                {"day": 0, "start": "12:00", "end": "17:00"},
            ],
            "must not overlap",
        ),
        ("UTC", [{"day": 0, "start": "09:00", "end": "09:05"}] * 71, "at most 70 periods"),
    ],
)
def test_a_bad_shift_is_refused_with_what_is_wrong(
    tenant: TenantSetup, zone: str, intervals: Any, message: str
) -> None:
    agent = make_member(tenant.tenant)
    with pytest.raises(InvalidShift) as refused:
        services.set_shift(membership=agent, timezone=zone, intervals=intervals, actor=None)
    assert message in str(refused.value)
    assert not AgentShift.objects.exists()


def test_bad_leave_is_refused(tenant: TenantSetup) -> None:
    agent = make_member(tenant.tenant)
    with pytest.raises(InvalidLeave, match="end on or after"):
        services.add_leave(
            membership=agent,
            starts_on=datetime.date(2026, 3, 3),
            ends_on=datetime.date(2026, 3, 2),
            actor=None,
        )
    with pytest.raises(InvalidLeave, match="three years"):
        services.add_leave(
            membership=agent,
            starts_on=datetime.date(2026, 1, 1),
            ends_on=datetime.date(2030, 1, 1),
            actor=None,
        )
    assert not ShiftLeave.objects.exists()


def test_only_admins_set_shifts_and_leave(tenant: TenantSetup) -> None:
    agent = make_member(tenant.tenant)
    with pytest.raises(PermissionDenied):
        services.set_shift(membership=agent, timezone="UTC", intervals=WEEKDAYS_9_TO_5, actor=agent)
    with pytest.raises(PermissionDenied):
        services.add_leave(
            membership=agent,
            starts_on=datetime.date(2026, 3, 2),
            ends_on=datetime.date(2026, 3, 2),
            actor=agent,
        )
    with pytest.raises(PermissionDenied):
        services.clear_shift(membership=agent, actor=agent)
    shift = services.set_shift(
        membership=agent, timezone="UTC", intervals=WEEKDAYS_9_TO_5, actor=tenant.admin
    )
    assert shift.intervals == WEEKDAYS_9_TO_5


# --- The clock -------------------------------------------------------------------------


def test_saving_a_shift_applies_it_at_once(
    tenant: TenantSetup, moves: list[tuple[Any, str, str]]
) -> None:
    agent = make_member(tenant.tenant)
    with time_machine.travel(MONDAY_10_BERLIN, tick=False):
        account_services.set_availability(membership=agent, availability="online", actor=agent)
        # 10:00 in Berlin is 04:00 in Chicago: outside these hours.
        services.set_shift(
            membership=agent, timezone="America/Chicago", intervals=WEEKDAYS_9_TO_5, actor=None
        )
        seat = _fresh(agent)
        assert (seat.on_shift, seat.availability, seat.availability_is_manual) == (
            False,
            "offline",
            False,
        )
        services.clear_shift(membership=agent, actor=None)
        assert (_fresh(agent).on_shift, _fresh(agent).availability) == (True, "offline")
    assert moves == [(agent.id, "offline", "online"), (agent.id, "online", "offline")]


def test_the_clock_takes_members_offline_at_the_end_of_their_shift(
    tenant: TenantSetup, moves: list[tuple[Any, str, str]]
) -> None:
    agent = make_member(tenant.tenant)
    always = make_member(tenant.tenant)
    services.set_shift(
        membership=agent, timezone="Europe/Berlin", intervals=WEEKDAYS_9_TO_5, actor=None
    )
    at = MONDAY_10_BERLIN
    services.run_shift_clock(now=at)
    for member in (agent, always):
        account_services.record_activity(membership=_fresh(member), now=at)
    assert _fresh(agent).availability == "online"
    end = at + 7 * HOUR
    for member in (agent, always):
        account_services.record_activity(
            membership=_fresh(member), now=end - datetime.timedelta(minutes=1)
        )
    assert services.run_shift_clock(now=end) == 1
    assert services.run_shift_clock(now=end) == 0  # a second run changes nothing
    seat = _fresh(agent)
    assert (seat.on_shift, seat.availability) == (False, "offline")
    assert _fresh(always).availability == "online"  # no shift: on at all times
    # The next morning the shift begins: still offline until the agent is active.
    tuesday = at + 24 * HOUR
    assert services.run_shift_clock(now=tuesday) == 1
    assert (_fresh(agent).on_shift, _fresh(agent).availability) == (True, "offline")
    account_services.record_activity(membership=_fresh(agent), now=tuesday)
    assert _fresh(agent).availability == "online"
    assert [move for move in moves if move[0] == agent.id] == [
        (agent.id, "offline", "online"),
        (agent.id, "online", "offline"),
        (agent.id, "offline", "online"),
    ]


def test_the_clock_makes_idle_members_away(tenant: TenantSetup, settings: Settings) -> None:
    settings.HELPDESK_AWAY_AFTER_MINUTES = 15
    agent = make_member(tenant.tenant)
    account_services.record_activity(membership=agent, now=MONDAY_10_BERLIN)
    services.run_shift_clock(now=MONDAY_10_BERLIN + datetime.timedelta(minutes=14))
    assert _fresh(agent).availability == "online"
    services.run_shift_clock(now=MONDAY_10_BERLIN + datetime.timedelta(minutes=16))
    assert (_fresh(agent).availability, _fresh(agent).availability_is_manual) == ("away", False)


@pytest.mark.django_db(transaction=True, databases=["default", "ops"])
def test_the_sweep_runs_the_clock_in_each_tenant_with_work(
    acme: TenantSetup, globex: TenantSetup, settings: Settings
) -> None:
    settings.HELPDESK_AWAY_AFTER_MINUTES = 15
    with tenant_context(acme.id):
        agent = make_member(acme.tenant)
        services.set_shift(
            membership=agent, timezone="Europe/Berlin", intervals=WEEKDAYS_9_TO_5, actor=None
        )
    Membership.objects.filter(id=agent.id).update(on_shift=True, availability="online")
    idle = make_member(globex.tenant)
    Membership.objects.filter(id=idle.id).update(
        availability="online", last_seen_at=MONDAY_10_BERLIN - HOUR
    )
    quiet = make_member(globex.tenant)
    Membership.objects.filter(id=quiet.id).update(
        availability="online", last_seen_at=MONDAY_10_BERLIN
    )
    evening = MONDAY_10_BERLIN + 8 * HOUR
    with time_machine.travel(evening, tick=False):
        assert tasks.sweep_shift_clock.delay().get() == 2
    assert (_fresh(agent).on_shift, _fresh(agent).availability) == (False, "offline")
    assert _fresh(idle).availability == "away"
    assert _fresh(quiet).availability == "away"  # eight hours without activity
    # Nothing left to do in globex: only acme (with a shift) is visited again.
    with time_machine.travel(evening + datetime.timedelta(minutes=1), tick=False):
        assert tasks.sweep_shift_clock.delay().get() == 1


@pytest.mark.django_db(transaction=True, databases=["default", "ops"])
def test_the_sweep_skips_inactive_tenants(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        services.set_shift(
            membership=acme.admin, timezone="UTC", intervals=WEEKDAYS_9_TO_5, actor=None
        )
    acme.tenant.is_active = False
    acme.tenant.save(update_fields=["is_active"])
    assert tasks.sweep_shift_clock.delay().get() == 0


# --- The API ---------------------------------------------------------------------------


def test_shift_api_put_get_delete(acme: TenantSetup) -> None:
    agent = make_member(acme.tenant)
    api = acme.api_client()
    url = f"/api/v1/members/{agent.id}/shift/"
    missing = api.get(url)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "shift_not_found"
    payload = {
        "timezone": "Europe/Berlin",
        "intervals": [
            {"day": 1, "start": "09:00", "end": "17:00"},
            {"day": 0, "start": "13:00", "end": "24:00"},
            {"day": 0, "start": "08:00", "end": "12:00"},
        ],
    }
    with time_machine.travel(MONDAY_10_BERLIN, tick=False):
        saved = api.put(url, payload, content_type="application/json")
        assert saved.status_code == 200, saved.content
        body = saved.json()
        assert body["member"] == str(agent.id)
        assert body["timezone"] == "Europe/Berlin"
        assert body["intervals"] == [  # by day and start
            {"day": 0, "start": "08:00", "end": "12:00"},
            {"day": 0, "start": "13:00", "end": "24:00"},
            {"day": 1, "start": "09:00", "end": "17:00"},
        ]
        assert body["on_shift"] is True
        assert body["shift_ends_at"] == "2026-03-02T11:00:00Z"
        assert body["next_shift_at"] is None
        assert api.get(url).json() == body
        member = api.get(f"/api/v1/members/{agent.id}/").json()
        assert member["on_shift"] is True
    assert api.delete(url).status_code == 204
    assert api.delete(url).status_code == 204  # nothing left to remove: still done
    assert api.get(url).status_code == 404


def test_leave_api_add_list_remove(acme: TenantSetup) -> None:
    agent = make_member(acme.tenant)
    other = make_member(acme.tenant)
    api = acme.api_client()
    url = f"/api/v1/members/{agent.id}/leave/"
    created = api.post(
        url,
        {"starts_on": "2026-08-03", "ends_on": "2026-08-14", "reason": "Summer"},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    leave = created.json()
    assert {k: leave[k] for k in ("member", "starts_on", "ends_on", "reason")} == {
        "member": str(agent.id),
        "starts_on": "2026-08-03",
        "ends_on": "2026-08-14",
        "reason": "Summer",
    }
    assert [item["id"] for item in api.get(url).json()] == [leave["id"]]
    assert api.get(f"{url}{leave['id']}/").json()["reason"] == "Summer"
    # Through another member's URL it does not exist.
    assert api.delete(f"/api/v1/members/{other.id}/leave/{leave['id']}/").status_code == 404
    assert api.delete(f"{url}{leave['id']}/").status_code == 204
    assert api.delete(f"{url}{leave['id']}/").status_code == 404
    assert api.get(url).json() == []


@pytest.mark.parametrize(
    "payload",
    [
        {"timezone": "Nowhere/Special", "intervals": WEEKDAYS_9_TO_5},
        {"timezone": "UTC", "intervals": []},
        {"timezone": "UTC", "intervals": "09:00-17:00"},
        {"timezone": "UTC", "intervals": ["09:00-17:00"]},
        {"timezone": "UTC", "intervals": [{"day": 9, "start": "09:00", "end": "17:00"}]},
        {"timezone": "UTC", "intervals": [{"day": 0, "start": "9am", "end": "17:00"}]},
        {"timezone": "UTC", "intervals": [{"day": 0, "start": "18:00", "end": "17:00"}]},
        {"timezone": "UTC", "intervals": [{"day": 0}]},
        {"timezone": "UTC"},
        {"intervals": WEEKDAYS_9_TO_5},
        {"timezone": "UTC", "intervals": WEEKDAYS_9_TO_5, "holidays": []},
        {"timezone": 5, "intervals": WEEKDAYS_9_TO_5},
    ],
)
def test_shift_api_refuses_bad_input_with_a_message(
    acme: TenantSetup, payload: dict[str, Any]
) -> None:
    agent = make_member(acme.tenant)
    response = acme.api_client().put(
        f"/api/v1/members/{agent.id}/shift/", payload, content_type="application/json"
    )
    assert response.status_code == 400, response.content
    assert response.json()["error"]["message"]
    with tenant_context(acme.id):
        assert not AgentShift.objects.exists()


@pytest.mark.parametrize(
    "payload",
    [
        {"starts_on": "2026-08-14", "ends_on": "2026-08-03"},
        {"starts_on": "2026-02-30", "ends_on": "2026-03-03"},
        {"starts_on": "tomorrow", "ends_on": "2026-03-03"},
        {"ends_on": "2026-03-03"},
        {"starts_on": "2026-03-03", "ends_on": "2026-03-03", "reason": "x" * 121},
    ],
)
def test_leave_api_refuses_bad_input(acme: TenantSetup, payload: dict[str, Any]) -> None:
    agent = make_member(acme.tenant)
    response = acme.api_client().post(
        f"/api/v1/members/{agent.id}/leave/", payload, content_type="application/json"
    )
    assert response.status_code == 400, response.content
    assert response.json()["error"]["message"]


def test_agents_read_shifts_but_only_admins_change_them(acme: TenantSetup) -> None:
    agent = make_member(acme.tenant)
    with tenant_context(acme.id):
        services.set_shift(membership=agent, timezone="UTC", intervals=WEEKDAYS_9_TO_5, actor=None)
    api = acme.api_client(agent)
    assert api.get(f"/api/v1/members/{agent.id}/shift/").status_code == 200
    assert api.get(f"/api/v1/members/{agent.id}/leave/").status_code == 200
    for method, path, payload in (
        ("put", "shift/", {"timezone": "UTC", "intervals": WEEKDAYS_9_TO_5}),
        ("put", "shift/", {"timezone": "bad"}),
        ("delete", "shift/", None),
        ("post", "leave/", {"starts_on": "2026-03-02", "ends_on": "2026-03-02"}),
    ):
        response = getattr(api, method)(
            f"/api/v1/members/{agent.id}/{path}", payload, content_type="application/json"
        )
        assert response.status_code == 403, (method, path)
    with tenant_context(acme.id):
        assert AgentShift.objects.get().intervals == WEEKDAYS_9_TO_5
        assert not ShiftLeave.objects.exists()


def test_shifts_of_another_tenants_member_are_not_found(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    with tenant_context(globex.id):
        services.set_shift(
            membership=globex.admin, timezone="UTC", intervals=WEEKDAYS_9_TO_5, actor=None
        )
        leave = services.add_leave(
            membership=globex.admin,
            starts_on=datetime.date(2026, 3, 2),
            ends_on=datetime.date(2026, 3, 2),
            actor=None,
        )
    api = acme.api_client()
    base = f"/api/v1/members/{globex.admin.id}"
    for method, path, payload in (
        ("get", "/shift/", None),
        ("put", "/shift/", {"timezone": "UTC", "intervals": WEEKDAYS_9_TO_5}),
        ("delete", "/shift/", None),
        ("get", "/leave/", None),
        ("post", "/leave/", {"starts_on": "2026-03-02", "ends_on": "2026-03-02"}),
        ("get", f"/leave/{leave.id}/", None),
        ("delete", f"/leave/{leave.id}/", None),
    ):
        response = getattr(api, method)(base + path, payload, content_type="application/json")
        assert response.status_code == 404, (method, path, response.content)
    # And acme's own member cannot reach globex's leave by id.
    own = api.get(f"/api/v1/members/{acme.admin.id}/leave/{leave.id}/")
    assert own.status_code == 404
    assert api.get("/api/v1/members/not-a-uuid/shift/").status_code == 404
    with tenant_context(globex.id):
        assert AgentShift.objects.count() == 1
        assert ShiftLeave.objects.count() == 1


def test_the_openapi_document_describes_shifts_and_availability(acme: TenantSetup) -> None:
    schema = acme.client().get("/api/schema/", HTTP_ACCEPT="application/json").json()
    paths = schema["paths"]
    assert {"get", "put", "delete"} <= set(paths["/api/v1/members/{member_id}/shift/"])
    assert {"get", "post"} <= set(paths["/api/v1/members/{member_id}/leave/"])
    assert "delete" in paths["/api/v1/members/{member_id}/leave/{leave_id}/"]
    update = schema["components"]["schemas"]["PatchedMemberUpdateInputRequest"]["properties"]
    assert "availability" in update


# --- Pages ---------------------------------------------------------------------------


def test_an_admin_sets_a_shift_and_leave_on_the_member_page(acme: TenantSetup) -> None:
    agent = make_member(acme.tenant, name="Nina Ruiz")
    admin = acme.client(acme.admin)
    url = f"/settings/members/{agent.id}/shift/"
    first = admin.get(url)
    assert first.status_code == 200
    assert b"No shift: on shift at all times" in first.content
    form = {
        "action": "shift",
        "timezone": "Europe/Lisbon",
        "day_0": "09:00-12:00, 13:00-17:00",
        "day_2": "22:00-24:00",
        "day_3": "00:00-06:00",
    }
    saved = admin.post(url, form)
    assert (saved.status_code, saved["Location"]) == (302, url)
    with tenant_context(acme.id):
        shift = AgentShift.objects.get(membership_id=agent.id)
    assert shift.timezone == "Europe/Lisbon"
    assert shift.intervals[:2] == [
        {"day": 0, "start": "09:00", "end": "12:00"},
        {"day": 0, "start": "13:00", "end": "17:00"},
    ]
    html = admin.get(url).content.decode()
    assert 'value="09:00-12:00, 13:00-17:00"' in html
    assert "Remove shift" in html
    for bad, message in (
        ({"day_1": "9 to 5"}, "Write periods like 09:00-17:00."),
        ({"day_1": "17:00-09:00"}, "Tuesday: each period must end after it starts"),
        ({"timezone": "Mars/Olympus"}, "Select a valid choice."),
    ):
        refused = admin.post(url, {**form, **bad})
        assert refused.status_code == 400
        assert message in refused.content.decode()
    added = admin.post(
        url,
        {"action": "leave", "starts_on": "2026-08-03", "ends_on": "2026-08-07", "reason": "Summer"},
    )
    assert added.status_code == 302
    assert "Summer" in admin.get(url).content.decode()
    backwards = admin.post(
        url, {"action": "leave", "starts_on": "2026-08-07", "ends_on": "2026-08-03"}
    )
    assert backwards.status_code == 400
    assert "The last day cannot be before the first." in backwards.content.decode()
    with tenant_context(acme.id):
        leave = ShiftLeave.objects.get(membership_id=agent.id)
    assert admin.post(url, {"action": "remove-leave", "leave": "nope"}).status_code == 404
    assert admin.post(url, {"action": "remove-leave", "leave": str(leave.id)}).status_code == 302
    set_away = admin.post(url, {"action": "availability", "availability": "away"})
    assert set_away.status_code == 302
    assert (_fresh(agent).availability, _fresh(agent).availability_is_manual) == ("away", True)
    assert admin.post(url, {"action": "availability", "availability": "busy"}).status_code == 400
    assert admin.post(url, {"action": "sing"}).status_code == 400
    assert admin.post(url, {"action": "clear"}).status_code == 302
    with tenant_context(acme.id):
        assert not AgentShift.objects.exists()
        assert not ShiftLeave.objects.exists()


def test_the_member_page_is_for_admins_of_the_same_tenant(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    agent = make_member(acme.tenant)
    assert acme.client(agent).get(f"/settings/members/{agent.id}/shift/").status_code == 403
    admin = acme.client(acme.admin)
    assert admin.get(f"/settings/members/{globex.admin.id}/shift/").status_code == 404
    refused = admin.post(
        f"/settings/members/{globex.admin.id}/shift/",
        {"action": "availability", "availability": "online"},
    )
    assert refused.status_code == 404
    assert _fresh(globex.admin).availability == "offline"


def test_the_department_page_shows_who_is_on_now_and_who_is_next(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        early = make_member(acme.tenant, name="Early Bird")
        late = make_member(acme.tenant, name="Night Owl")
        nine_to_five = make_member(acme.tenant, name="Day Worker")
        anytime = make_member(acme.tenant, name="Any Time")
        services.set_shift(
            membership=early,
            timezone="UTC",
            intervals=[{"day": d, "start": "11:00", "end": "15:00"} for d in range(7)],
            actor=None,
        )
        services.set_shift(
            membership=late,
            timezone="UTC",
            intervals=[{"day": d, "start": "20:00", "end": "24:00"} for d in range(7)],
            actor=None,
        )
        services.set_shift(
            membership=nine_to_five, timezone="UTC", intervals=WEEKDAYS_9_TO_5, actor=None
        )
        department_services.update_department(
            department=acme.department,
            actor=None,
            name=acme.department.name,
            description="",
            is_default=True,
            members=[early, late, nine_to_five, anytime],
        )
        roster = selectors.department_roster(acme.department.id, MONDAY_10_BERLIN)
    assert [e.membership.user.name for e in roster.on_now] == ["Any Time", "Day Worker"]
    assert [e.membership.user.name for e in roster.off_now] == ["Early Bird", "Night Owl"]
    assert roster.next_up is not None
    assert roster.next_up.next_start == datetime.datetime(2026, 3, 2, 11, 0, tzinfo=UTC)
    assert roster.on_now[1].until == datetime.datetime(2026, 3, 2, 17, 0, tzinfo=UTC)
    admin = acme.client(acme.admin)
    url = f"/settings/departments/{acme.department.id}/"
    with time_machine.travel(MONDAY_10_BERLIN, tick=False):
        admin.get(url)
        with CaptureQueriesContext(connection) as four:
            page = admin.get(url).content.decode()
        assert "Who is on now" in page
        assert "next on shift Mon 2 Mar, 11:00 UTC" in page
        assert "on shift until Mon 17:00 UTC" in page
        assert "no set hours" in page
        assert "on shift from Mon 2 Mar, 20:00 UTC" in page
        with tenant_context(acme.id):
            more = [make_member(acme.tenant) for _ in range(4)]
            for member in more:
                services.set_shift(
                    membership=member, timezone="UTC", intervals=WEEKDAYS_9_TO_5, actor=None
                )
            department_services.update_department(
                department=acme.department,
                actor=None,
                name=acme.department.name,
                description="",
                is_default=True,
                members=[early, late, nine_to_five, anytime, *more],
            )
        with CaptureQueriesContext(connection) as eight:
            admin.get(url)
    # The member checkboxes list the whole team either way; the roster adds no query per agent.
    assert len(eight.captured_queries) == len(four.captured_queries)
