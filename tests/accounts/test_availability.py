"""Availability (online, away, offline): set by the member and by admins, moved by activity,
inactivity, the shift clock, logging out and deactivation; sent to routing as
`availability_changed`; shown in the top bar, on the team page and beside assignees; read
and set through /api/v1/members/<id>/."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pytest_django import DjangoCaptureOnCommitCallbacks, Settings

from helpdesk.accounts import services
from helpdesk.accounts.errors import InvalidAvailability, SeatInactive
from helpdesk.accounts.signals import availability_changed
from helpdesk.core.errors import PermissionDenied
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.errors import MemberNotFound
from helpdesk.tenancy.models import Membership, MembershipRole
from tests.conftest import TenantSetup
from tests.factories.accounts import make_member
from tests.factories.tickets import make_ticket
from tickets.ticket import services as ticket_services

T0 = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)


@dataclass
class Sent:
    """What `availability_changed` carried, in order."""

    calls: list[dict[str, Any]] = field(default_factory=list)

    def moves(self) -> list[tuple[str, str]]:
        return [(call["previous"], call["availability"]) for call in self.calls]


@pytest.fixture
def sent() -> Iterator[Sent]:
    record = Sent()

    def receiver(sender: object, **kwargs: Any) -> None:
        record.calls.append(kwargs)

    availability_changed.connect(receiver, dispatch_uid="test-availability")
    yield record
    availability_changed.disconnect(dispatch_uid="test-availability")


def _fresh(member: Membership) -> Membership:
    return Membership.objects.get(id=member.id)


def _set_state(member: Membership, **fields: Any) -> None:
    Membership.objects.filter(id=member.id).update(**fields)


# --- The service -----------------------------------------------------------------------


def test_a_member_sets_their_own_availability_by_hand(tenant: TenantSetup, sent: Sent) -> None:
    agent = make_member(tenant.tenant)
    assert (agent.availability, agent.availability_is_manual) == ("offline", False)
    seat = services.set_availability(membership=agent, availability="away", actor=agent)
    assert (seat.availability, seat.availability_is_manual) == ("away", True)
    assert seat.availability_changed_at is not None
    assert sent.calls == [
        {
            "signal": availability_changed,
            "tenant_id": tenant.id,
            "membership_id": agent.id,
            "availability": "away",
            "previous": "offline",
        }
    ]
    # The same choice again: no move, no signal.
    services.set_availability(membership=agent, availability="away", actor=agent)
    assert len(sent.calls) == 1


def test_only_admins_set_someone_elses_availability(tenant: TenantSetup, sent: Sent) -> None:
    agent = make_member(tenant.tenant)
    other = make_member(tenant.tenant)
    with pytest.raises(PermissionDenied):
        services.set_availability(membership=other, availability="online", actor=agent)
    assert _fresh(other).availability == "offline"
    services.set_availability(membership=other, availability="online", actor=tenant.admin)
    assert (_fresh(other).availability, _fresh(other).availability_is_manual) == ("online", True)
    assert sent.moves() == [("offline", "online")]


def test_a_bad_availability_or_a_deactivated_seat_is_refused(tenant: TenantSetup) -> None:
    agent = make_member(tenant.tenant)
    for bad in ("busy", "", "ONLINE"):
        with pytest.raises(InvalidAvailability):
            services.set_availability(membership=agent, availability=bad, actor=agent)
    services.change_member(membership=agent, actor=tenant.admin, is_active=False)
    with pytest.raises(SeatInactive):
        services.set_availability(membership=agent, availability="online", actor=tenant.admin)


def test_another_tenants_member_is_not_found(
    other_tenant: TenantSetup, tenant: TenantSetup
) -> None:
    with pytest.raises(MemberNotFound):
        services.set_availability(
            membership=other_tenant.admin, availability="online", actor=tenant.admin
        )
    assert _fresh(other_tenant.admin).availability == "offline"


def test_deactivating_a_seat_makes_it_offline(tenant: TenantSetup, sent: Sent) -> None:
    agent = make_member(tenant.tenant)
    services.set_availability(membership=agent, availability="online", actor=agent)
    services.change_member(membership=agent, actor=tenant.admin, is_active=False)
    assert (_fresh(agent).availability, _fresh(agent).availability_is_manual) == (
        "offline",
        False,
    )
    assert sent.moves() == [("offline", "online"), ("online", "offline")]


def test_activity_on_shift_brings_an_automatic_member_online(
    tenant: TenantSetup, sent: Sent
) -> None:
    agent = make_member(tenant.tenant)
    assert services.record_activity(membership=agent, now=T0)
    assert (_fresh(agent).availability, _fresh(agent).last_seen_at) == ("online", T0)
    assert sent.moves() == [("offline", "online")]
    # Off shift, activity changes nothing but the time.
    other = make_member(tenant.tenant)
    _set_state(other, on_shift=False)
    services.record_activity(membership=_fresh(other), now=T0)
    assert (_fresh(other).availability, _fresh(other).last_seen_at) == ("offline", T0)


def test_activity_leaves_a_manual_away_or_offline_alone(tenant: TenantSetup) -> None:
    agent = make_member(tenant.tenant)
    for choice in ("away", "offline"):
        services.set_availability(membership=agent, availability=choice, actor=agent)
        services.record_activity(membership=_fresh(agent), now=T0)
        assert (_fresh(agent).availability, _fresh(agent).availability_is_manual) == (
            choice,
            True,
        )


def test_activity_is_written_at_most_once_a_minute(tenant: TenantSetup) -> None:
    agent = make_member(tenant.tenant)
    assert services.record_activity(membership=agent, now=T0)
    seat = _fresh(agent)
    assert not services.record_activity(membership=seat, now=T0 + datetime.timedelta(seconds=59))
    assert _fresh(agent).last_seen_at == T0
    later = T0 + datetime.timedelta(seconds=61)
    assert services.record_activity(membership=seat, now=later)
    assert _fresh(agent).last_seen_at == later


def test_inactivity_makes_online_members_away(
    tenant: TenantSetup, settings: Settings, sent: Sent
) -> None:
    settings.HELPDESK_AWAY_AFTER_MINUTES = 15
    minutes = datetime.timedelta(minutes=1)
    idle, busy, manual_online, manual_away, just_chosen = (
        make_member(tenant.tenant) for _ in range(5)
    )
    _set_state(idle, availability="online", last_seen_at=T0 - 16 * minutes)
    _set_state(busy, availability="online", last_seen_at=T0 - 14 * minutes)
    _set_state(
        manual_online,
        availability="online",
        availability_is_manual=True,
        last_seen_at=T0 - 16 * minutes,
        availability_changed_at=T0 - 20 * minutes,
    )
    _set_state(
        manual_away,
        availability="away",
        availability_is_manual=True,
        last_seen_at=T0 - 60 * minutes,
    )
    # An admin just put someone who has not been around online: they get the full time.
    _set_state(
        just_chosen,
        availability="online",
        availability_is_manual=True,
        availability_changed_at=T0 - 5 * minutes,
    )
    assert services.mark_idle_members_away(now=T0) == 2
    state = {m.id: (m.availability, m.availability_is_manual) for m in Membership.objects.all()}
    assert state[idle.id] == ("away", False)
    assert state[manual_online.id] == ("away", False)  # a manual online lapses
    assert state[busy.id] == ("online", False)
    assert state[manual_away.id] == ("away", True)
    assert state[just_chosen.id] == ("online", True)
    assert sorted(sent.moves()) == [("online", "away")] * 2
    # Back at the desk: activity brings the lapsed one online again.
    services.record_activity(membership=_fresh(manual_online), now=T0)
    assert _fresh(manual_online).availability == "online"
    assert services.mark_idle_members_away(now=T0) == 0


def test_a_shift_ending_takes_even_a_manual_online_offline(tenant: TenantSetup, sent: Sent) -> None:
    agent = make_member(tenant.tenant)
    services.set_availability(membership=agent, availability="online", actor=agent)
    assert services.set_on_shift(membership_id=agent.id, on_shift=False, now=T0)
    assert not services.set_on_shift(membership_id=agent.id, on_shift=False, now=T0)
    seat = _fresh(agent)
    assert (seat.on_shift, seat.availability, seat.availability_is_manual) == (
        False,
        "offline",
        False,
    )
    # The next shift begins: nobody is made online who is not at work.
    assert services.set_on_shift(membership_id=agent.id, on_shift=True, now=T0)
    assert (_fresh(agent).on_shift, _fresh(agent).availability) == (True, "offline")
    services.record_activity(membership=_fresh(agent), now=T0)
    assert _fresh(agent).availability == "online"
    assert sent.moves() == [("offline", "online"), ("online", "offline"), ("offline", "online")]


def test_a_shift_beginning_brings_only_a_recently_active_member_online(
    tenant: TenantSetup, settings: Settings
) -> None:
    settings.HELPDESK_AWAY_AFTER_MINUTES = 15
    minutes = datetime.timedelta(minutes=1)
    active, gone, chose_away = (make_member(tenant.tenant) for _ in range(3))
    _set_state(active, on_shift=False, last_seen_at=T0 - 5 * minutes)
    _set_state(gone, on_shift=False, last_seen_at=T0 - 90 * minutes)
    _set_state(
        chose_away,
        on_shift=False,
        availability="away",
        availability_is_manual=True,
        last_seen_at=T0 - minutes,
    )
    for member in (active, gone, chose_away):
        assert services.set_on_shift(membership_id=member.id, on_shift=True, now=T0)
    assert _fresh(active).availability == "online"
    assert _fresh(gone).availability == "offline"
    assert _fresh(chose_away).availability == "away"


def test_the_shift_clock_does_not_reach_another_tenant(
    other_tenant: TenantSetup, tenant: TenantSetup
) -> None:
    assert not services.set_on_shift(membership_id=other_tenant.admin.id, on_shift=False)
    assert _fresh(other_tenant.admin).on_shift is True
    _set_state(other_tenant.admin, availability="online")
    assert services.mark_idle_members_away(now=T0) == 0
    assert _fresh(other_tenant.admin).availability == "online"


# --- Requests: activity, logging out, the top bar ---------------------------------------


def test_a_browser_request_is_activity_but_tokens_and_polls_are_not(acme: TenantSetup) -> None:
    agent = make_member(acme.tenant)
    api = acme.api_client(agent)
    assert api.get("/api/v1/tickets/").status_code == 200
    browser = acme.client(agent)
    assert browser.get("/notifications/badge/").status_code == 200
    assert (_fresh(agent).availability, _fresh(agent).last_seen_at) == ("offline", None)
    inbox = browser.get("/inbox/")
    assert inbox.status_code == 200
    # Recorded before the view ran: the page already says so.
    assert b'aria-label="Your availability: Online"' in inbox.content
    seat = _fresh(agent)
    assert seat.availability == "online"
    assert seat.last_seen_at is not None
    # A refused request is no activity either (and is rolled back).
    _set_state(agent, availability="away", last_seen_at=None)
    assert browser.get("/settings/").status_code == 403
    assert (_fresh(agent).availability, _fresh(agent).last_seen_at) == ("away", None)


def test_logging_out_makes_the_member_offline(acme: TenantSetup, sent: Sent) -> None:
    agent = make_member(acme.tenant)
    browser = acme.client(agent)
    browser.get("/inbox/")
    services_seat = _fresh(agent)
    assert services_seat.availability == "online"
    assert browser.post("/accounts/logout/").status_code == 302
    assert (_fresh(agent).availability, _fresh(agent).availability_is_manual) == (
        "offline",
        False,
    )
    assert sent.moves() == [("offline", "online"), ("online", "offline")]


def test_the_top_bar_switch_sets_the_members_own_availability(
    acme: TenantSetup, sent: Sent
) -> None:
    agent = make_member(acme.tenant)
    _set_state(agent, on_shift=False)  # activity would not make them online
    browser = acme.client(agent)
    page = browser.get("/inbox/")
    assert b'id="availability-switch"' in page.content
    assert b'aria-label="Your availability: Offline"' in page.content
    swapped = browser.post(
        "/accounts/availability/",
        {"availability": "away", "next": "/inbox/"},
        HTTP_HX_REQUEST="true",
    )
    assert swapped.status_code == 200
    assert "HX-Request" in swapped["Vary"]
    assert b'aria-label="Your availability: Away"' in swapped.content
    assert b"Set by hand" in swapped.content
    assert b'name="next" value="/inbox/"' in swapped.content
    assert (_fresh(agent).availability, _fresh(agent).availability_is_manual) == ("away", True)
    plain = browser.post("/accounts/availability/", {"availability": "offline", "next": "/inbox/"})
    assert (plain.status_code, plain["Location"]) == (302, "/inbox/")
    assert _fresh(agent).availability == "offline"
    elsewhere = browser.post(
        "/accounts/availability/", {"availability": "online", "next": "https://evil.test/"}
    )
    assert elsewhere["Location"] == "/inbox/"
    # Choosing is not activity first: exactly the moves chosen.
    assert sent.moves() == [("offline", "away"), ("away", "offline"), ("offline", "online")]


def test_the_top_bar_switch_refuses_bad_input(acme: TenantSetup) -> None:
    agent = make_member(acme.tenant)
    browser = acme.client(agent)
    refused = browser.post(
        "/accounts/availability/", {"availability": "busy"}, HTTP_HX_REQUEST="true"
    )
    assert refused.status_code == 400
    assert b"Availability is one of online, away or offline." in refused.content
    assert browser.get("/accounts/availability/").status_code == 405
    assert _fresh(agent).availability == "offline"  # refused requests are no activity
    anonymous = acme.client().post("/accounts/availability/", {"availability": "away"})
    assert anonymous.status_code == 302
    assert "/accounts/login/" in anonymous["Location"]


def test_light_agents_have_no_switch(acme: TenantSetup) -> None:
    light = make_member(acme.tenant, MembershipRole.LIGHT_AGENT)
    page = acme.client(light).get("/inbox/")
    assert b'id="availability-switch"' not in page.content


# --- Where availability shows ----------------------------------------------------------


def test_the_team_page_shows_availability_and_links_shifts(acme: TenantSetup) -> None:
    agent = make_member(acme.tenant, name="Ben Okafor")
    _set_state(agent, availability="away", availability_is_manual=True, on_shift=False)
    page = acme.client(acme.admin).get("/accounts/team/")
    assert page.status_code == 200
    html = page.content.decode()
    row = html[html.index(f'id="seat-{agent.id}"') :]
    row = row[: row.index("</tr>")]
    assert 'class="availability-dot availability-away"' in row
    assert "(set by hand)" in row
    assert "off shift" in row
    assert f"/settings/members/{agent.id}/shift/" in row


def test_assignees_show_their_availability_in_constant_queries(acme: TenantSetup) -> None:
    agents = [make_member(acme.tenant, name=f"Agent {i}") for i in range(5)]
    for agent, state in zip(agents, ["online", "away", "offline", "online", "away"], strict=True):
        _set_state(agent, availability=state)
    with tenant_context(acme.id):
        first = make_ticket(subject="First")
        ticket_services.assign_ticket(ticket=first, assignee=agents[1], actor=acme.admin)
    browser = acme.client(acme.admin)
    browser.get("/inbox/")  # the admin's own activity write happens once, before counting
    with CaptureQueriesContext(connection) as one:
        page = browser.get("/inbox/")
    assert 'class="availability-dot availability-away"' in page.content.decode()
    with tenant_context(acme.id):
        for agent in agents:
            ticket = make_ticket(subject=f"For {agent.user.name}")
            ticket_services.assign_ticket(ticket=ticket, assignee=agent, actor=acme.admin)
    with CaptureQueriesContext(connection) as six:
        page = browser.get("/inbox/")
    assert len(six.captured_queries) == len(one.captured_queries)
    html = page.content.decode()
    for state in ("online", "away", "offline"):
        assert f"availability-dot availability-{state}" in html
    detail = browser.get(f"/tickets/{first.number}/")
    assert b"is away" in detail.content
    assert b'id="assignee-availability"' in detail.content


# --- The API ---------------------------------------------------------------------------


def test_the_member_api_reads_availability(acme: TenantSetup) -> None:
    agent = make_member(acme.tenant)
    body = acme.api_client(agent).get(f"/api/v1/members/{acme.admin.id}/").json()
    assert body["availability"] == "offline"
    assert body["availability_is_manual"] is False
    assert body["on_shift"] is True
    assert "availability_changed_at" in body


def test_a_member_patches_only_their_own_availability(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    agent = make_member(acme.tenant)
    other = make_member(acme.tenant)
    api = acme.api_client(agent)
    own = api.patch(
        f"/api/v1/members/{agent.id}/", {"availability": "online"}, content_type="application/json"
    )
    assert own.status_code == 200, own.content
    assert (own.json()["availability"], own.json()["availability_is_manual"]) == ("online", True)
    for payload in ({"role": "admin"}, {"availability": "away", "role": "admin"}):
        refused = api.patch(
            f"/api/v1/members/{agent.id}/", payload, content_type="application/json"
        )
        assert refused.status_code == 403, payload
        assert refused.json()["error"]["code"] == "permission_denied"
    someone_else = api.patch(
        f"/api/v1/members/{other.id}/", {"availability": "online"}, content_type="application/json"
    )
    assert someone_else.status_code == 403
    assert _fresh(other).availability == "offline"
    assert _fresh(agent).role == "agent"


def test_admins_patch_anyones_availability(acme: TenantSetup, globex: TenantSetup) -> None:
    agent = make_member(acme.tenant)
    api = acme.api_client()
    response = api.patch(
        f"/api/v1/members/{agent.id}/", {"availability": "away"}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    assert _fresh(agent).availability == "away"
    both = api.patch(
        f"/api/v1/members/{agent.id}/",
        {"availability": "online", "role": "light_agent"},
        content_type="application/json",
    )
    assert both.status_code == 200
    assert (both.json()["availability"], both.json()["role"]) == ("online", "light_agent")
    bad = api.patch(
        f"/api/v1/members/{agent.id}/", {"availability": "busy"}, content_type="application/json"
    )
    assert bad.status_code == 400
    assert "availability" in bad.json()["error"]["fields"]
    not_json_object = api.patch(
        f"/api/v1/members/{agent.id}/", ["online"], content_type="application/json"
    )
    assert not_json_object.status_code == 400
    elsewhere = api.patch(
        f"/api/v1/members/{globex.admin.id}/",
        {"availability": "online"},
        content_type="application/json",
    )
    assert elsewhere.status_code == 404
    assert _fresh(globex.admin).availability == "offline"
    # A refused change keeps nothing of the request (a 4xx rolls back).
    services_seat = _fresh(agent)
    assert (services_seat.availability, services_seat.role) == ("online", "light_agent")
