"""Automatic assignment per department: round-robin and load balancing among eligible
agents, the cap, the backlog handed out most urgent and oldest first when someone can
take it, and tickets handed back when an agent leaves, goes offline or is deactivated."""

from __future__ import annotations

from collections import Counter
from typing import Any
from uuid import UUID

import pytest
from django.core.cache import cache
from pytest_django import DjangoAssertNumQueries, DjangoCaptureOnCommitCallbacks

from automation.assignment import selectors, services, tasks
from departments import selectors as department_selectors
from departments import services as department_services
from departments.models import AssignmentMode, Department, DepartmentMember
from helpdesk.accounts import services as account_services
from helpdesk.accounts.signals import availability_changed
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import Availability, Membership, MembershipRole
from tests.conftest import TenantSetup
from tests.factories.accounts import make_member
from tests.factories.tickets import make_ticket
from tickets.models import Message, MessageKind, Notification, NotificationKind, Ticket
from tickets.ticket import services as ticket_services


def online(tenant: TenantSetup, name: str, role: str = MembershipRole.AGENT) -> Membership:
    member = make_member(tenant.tenant, role, name=name)
    return set_availability(member, Availability.ONLINE)


def set_availability(member: Membership, availability: str) -> Membership:
    """What the availability service leaves (it is another feature's): the row and the
    signal routing listens to."""
    previous = member.availability
    Membership.objects.filter(id=member.id).update(availability=availability)
    member.availability = availability
    availability_changed.send(
        sender=Membership,
        tenant_id=member.tenant_id,
        membership_id=member.id,
        availability=availability,
        previous=previous,
    )
    return member


def department(
    name: str, members: list[Membership], mode: str = AssignmentMode.ROUND_ROBIN, **settings: object
) -> Department:
    created = department_services.create_department(name=name)
    return department_services.update_department(
        department=created,
        members=members,
        assignment_mode=mode,
        **settings,  # type: ignore[arg-type]
    )


def tickets_in(dept: Department, count: int, **kwargs: Any) -> list[Ticket]:
    return [make_ticket(subject=f"Ticket {i}", department=dept, **kwargs) for i in range(count)]


def assignees(tickets: list[Ticket]) -> list[UUID | None]:
    found = dict(
        Ticket.objects.filter(id__in=[t.id for t in tickets]).values_list("id", "assignee_id")
    )
    return [found[t.id] for t in tickets]


def assignee_events(ticket: Ticket) -> list[dict[str, object]]:
    return [
        event
        for event in Message.objects.filter(ticket=ticket, kind=MessageKind.EVENT)
        .order_by("created_at", "id")
        .values_list("event", flat=True)
        if event.get("field") == "assignee"
    ]


def test_round_robin_gives_eligible_agents_tickets_in_turn(tenant: TenantSetup) -> None:
    ana, ben, cai = (online(tenant, n) for n in ("Ana", "Ben", "Cai"))
    away = make_member(tenant.tenant, name="Away")  # offline: the default
    light = online(tenant, "Light", MembershipRole.LIGHT_AGENT)
    gone = online(tenant, "Gone")
    Membership.objects.filter(id=gone.id).update(is_active=False)
    off_shift = online(tenant, "Night")
    Membership.objects.filter(id=off_shift.id).update(on_shift=False)
    online(tenant, "Elsewhere")  # online, but not seated here
    support = department("Tier one", [ana, ben, cai, away, light, gone, off_shift])
    first = tickets_in(support, 7)

    assert services.assign_new_tickets(ticket_ids=[t.id for t in first]) == 7

    # Never-assigned agents first, by member id (the order they joined), then in turn.
    assert assignees(first) == [ana.id, ben.id, cai.id, ana.id, ben.id, cai.id, ana.id]
    later = tickets_in(support, 2)
    services.assign_new_tickets(ticket_ids=[t.id for t in later])
    assert assignees(later) == [ben.id, cai.id]
    assert assignee_events(first[0]) == [
        {"field": "assignee", "from": None, "to": str(ana.id), "via": "round_robin"}
    ]
    assert Notification.objects.filter(kind=NotificationKind.ASSIGNED).count() == 9
    turns = dict(
        DepartmentMember.objects.filter(department=support).values_list(
            "membership_id", "last_assigned_at"
        )
    )
    assert turns[away.id] is None
    assert [turns[m.id] for m in (ana, ben, cai)] == sorted(
        turn for turn in (turns[ana.id], turns[ben.id], turns[cai.id]) if turn is not None
    )
    # Done is done: the same batch again assigns nothing, and nothing twice.
    assert services.assign_new_tickets(ticket_ids=[t.id for t in first + later]) == 0
    assert all(len(assignee_events(t)) == 1 for t in first + later)


def test_the_cap_keeps_the_rest_in_the_backlog_handed_out_most_urgent_and_oldest_first(
    tenant: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    ana, ben = online(tenant, "Ana"), online(tenant, "Ben")
    support = department("Tier one", [ana, ben], max_open_per_agent=2)
    normal = tickets_in(support, 5)
    urgent = make_ticket(subject="Down!", department=support, priority="urgent")

    assert services.assign_new_tickets(ticket_ids=[t.id for t in [*normal, urgent]]) == 4
    # The urgent one first, then the oldest.
    assert assignees([urgent, *normal]) == [ana.id, ben.id, ana.id, ben.id, None, None]
    load = selectors.get_department_load(support)
    assert load.backlog == 2
    assert [(a.open_count, a.eligible, a.reason) for a in load.agents] == [
        (2, False, "at the limit"),
        (2, False, "at the limit"),
    ]

    with django_capture_on_commit_callbacks(execute=True):  # Ben solves one: room for one
        ticket_services.change_status(ticket=normal[2], status="solved", actor=ben)
    assert assignees(normal) == [ben.id, ana.id, ben.id, ben.id, None]

    # Direct assignment is not limited by the cap, and a drain with nobody below it waits.
    ticket_services.assign_ticket(ticket=normal[4], assignee=ana, actor=tenant.admin)
    assert services.drain_backlog(department_id=support.id) == 0


def test_load_balancing_gives_the_agent_with_fewest_unsolved_tickets_here(
    tenant: TenantSetup,
) -> None:
    ana, ben, cai = (online(tenant, n) for n in ("Ana", "Ben", "Cai"))
    support = department("Tier one", [ana, ben, cai], AssignmentMode.LOAD_BALANCED)
    other = department("Other", [cai], AssignmentMode.MANUAL)
    for member, count in ((ana, 3), (ben, 1)):
        for ticket in tickets_in(support, count):
            ticket_services.assign_ticket(ticket=ticket, assignee=member, actor=tenant.admin)
    for ticket in tickets_in(other, 5):  # another department's tickets do not count here
        ticket_services.assign_ticket(ticket=ticket, assignee=cai, actor=tenant.admin)
    solved = tickets_in(support, 2)
    for ticket in solved:  # nor do solved ones
        ticket_services.assign_ticket(ticket=ticket, assignee=cai, actor=tenant.admin)
        ticket_services.change_status(ticket=ticket, status="solved", actor=cai)
    new = tickets_in(support, 4)

    services.assign_new_tickets(ticket_ids=[t.id for t in new])

    assert assignees(new) == [cai.id, ben.id, cai.id, ben.id]
    assert assignee_events(new[0])[0]["via"] == "load_balanced"


def test_offline_and_away_agents_get_tickets_only_where_the_department_says_so(
    tenant: TenantSetup,
) -> None:
    away = set_availability(make_member(tenant.tenant, name="Away"), Availability.AWAY)
    offline = make_member(tenant.tenant, name="Offline")
    strict = department("Strict", [away, offline])
    relaxed = department("Relaxed", [away, offline], assign_offline_agents=True)
    waiting = tickets_in(strict, 2)
    taken = tickets_in(relaxed, 2)

    assert services.assign_new_tickets(ticket_ids=[t.id for t in waiting + taken]) == 2
    assert assignees(waiting) == [None, None]
    assert sorted(map(str, assignees(taken))) == sorted([str(away.id), str(offline.id)])


def test_the_backlog_is_handed_out_when_an_agent_comes_online(
    tenant: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    ana = make_member(tenant.tenant, name="Ana")
    support = department("Tier one", [ana])
    waiting = tickets_in(support, 3)
    assert services.assign_new_tickets(ticket_ids=[t.id for t in waiting]) == 0

    with django_capture_on_commit_callbacks(execute=True):
        set_availability(ana, Availability.ONLINE)

    assert assignees(waiting) == [ana.id] * 3


def test_an_agent_seated_or_new_settings_drain_the_backlog(
    tenant: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    ana, ben = online(tenant, "Ana"), online(tenant, "Ben")
    support = department("Tier one", [ana], max_open_per_agent=1)
    waiting = tickets_in(support, 4)
    services.assign_new_tickets(ticket_ids=[t.id for t in waiting])
    assert assignees(waiting) == [ana.id, None, None, None]

    with django_capture_on_commit_callbacks(execute=True):
        department_services.add_department_member(department=support, membership=ben)
    assert assignees(waiting) == [ana.id, ben.id, None, None]
    with django_capture_on_commit_callbacks(execute=True):
        department_services.update_department(department=support, max_open_per_agent=None)
    assert assignees(waiting) == [ana.id, ben.id, ana.id, ben.id]


def test_an_agent_who_leaves_the_department_hands_tickets_back_to_the_others(
    tenant: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    ana, ben = online(tenant, "Ana"), online(tenant, "Ben")
    support = department("Tier one", [ana, ben])
    manual = department("Manual", [ana, ben], AssignmentMode.MANUAL)
    work = tickets_in(support, 4)
    services.assign_new_tickets(ticket_ids=[t.id for t in work])
    kept = make_ticket(department=manual)
    ticket_services.assign_ticket(ticket=kept, assignee=ana, actor=tenant.admin)

    with django_capture_on_commit_callbacks(execute=True):
        department_services.update_department(department=support, members=[ben])
        department_services.update_department(department=manual, members=[ben])

    assert assignees(work) == [ben.id] * 4
    assert assignee_events(work[0]) == [
        {"field": "assignee", "from": None, "to": str(ana.id), "via": "round_robin"},
        {"field": "assignee", "from": str(ana.id), "to": None, "via": "left_department"},
        {"field": "assignee", "from": None, "to": str(ben.id), "via": "round_robin"},
    ]
    # In a manual department agents keep their tickets.
    assert assignees([kept]) == [ana.id]


def test_an_agent_seated_again_before_the_hand_back_runs_keeps_their_tickets(
    tenant: TenantSetup,
) -> None:
    ana, ben = online(tenant, "Ana"), online(tenant, "Ben")
    support = department("Tier one", [ana, ben])
    work = tickets_in(support, 2)
    services.assign_new_tickets(ticket_ids=[t.id for t in work])
    department_services.update_department(department=support, members=[ben])
    department_services.update_department(department=support, members=[ana, ben])

    assert (
        tasks.hand_back_departed(
            tenant_id=str(tenant.id), department_id=str(support.id), membership_ids=[str(ana.id)]
        )
        == 0
    )
    assert assignees(work) == [ana.id, ben.id]


def test_going_offline_hands_tickets_back_only_where_the_department_says_so(
    tenant: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    ana, ben = online(tenant, "Ana"), online(tenant, "Ben")
    follow = department("Follow the sun", [ana, ben], hand_back_when_offline=True)
    keep = department("Keep", [ana, ben])
    handed = tickets_in(follow, 2)
    kept = tickets_in(keep, 2)
    services.assign_new_tickets(ticket_ids=[t.id for t in handed + kept])
    assert assignees(handed) == assignees(kept) == [ana.id, ben.id]

    with django_capture_on_commit_callbacks(execute=True):
        set_availability(ana, Availability.OFFLINE)

    assert assignees(handed) == [ben.id, ben.id]
    assert assignees(kept) == [ana.id, ben.id]
    assert assignee_events(handed[0])[1] == {
        "field": "assignee",
        "from": str(ana.id),
        "to": None,
        "via": "went_offline",
    }
    # Not offline (any more) when the task runs: nothing is taken back.
    assert tasks.hand_back_offline(tenant_id=str(tenant.id), membership_id=str(ben.id)) == 0


def test_a_deactivated_agents_tickets_are_handed_out_again(
    tenant: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    ana, ben = online(tenant, "Ana"), online(tenant, "Ben")
    support = department("Tier one", [ana, ben])
    work = tickets_in(support, 2)
    services.assign_new_tickets(ticket_ids=[t.id for t in work])

    with django_capture_on_commit_callbacks(execute=True):
        account_services.change_member(membership=ana, actor=tenant.admin, is_active=False)

    assert assignees(work) == [ben.id, ben.id]
    events = assignee_events(work[0])
    assert events[1]["via"] == "unassignable"
    assert events[-1] == {
        "field": "assignee",
        "from": None,
        "to": str(ben.id),
        "via": "round_robin",
    }


def test_a_rule_assigns_one_ticket_by_the_department_mode(tenant: TenantSetup) -> None:
    ana = online(tenant, "Ana")
    support = department("Tier one", [ana], max_open_per_agent=1)
    first, second = tickets_in(support, 2)

    assert services.assign_by_department_mode(ticket=first) == ana
    assert first.assignee_id == ana.id
    assert services.assign_by_department_mode(ticket=first) is None  # has someone
    assert services.assign_by_department_mode(ticket=second) is None  # Ana at the cap
    manual = department("Manual", [ana], AssignmentMode.MANUAL)
    assert services.assign_by_department_mode(ticket=make_ticket(department=manual)) is None


def test_manual_departments_and_tenants_without_automatic_ones_cost_no_query(
    tenant: TenantSetup, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    ana = online(tenant, "Ana")
    manual = department("Manual", [ana], AssignmentMode.MANUAL)
    waiting = tickets_in(manual, 2)
    cache.delete(department_selectors.departments_key())
    department_selectors.cached_departments()
    with django_assert_num_queries(0):
        assert services.assign_new_tickets(ticket_ids=[t.id for t in waiting]) == 0
    assert assignees(waiting) == [None, None]


def test_spam_solved_and_already_assigned_tickets_are_left_alone(tenant: TenantSetup) -> None:
    ana, ben = online(tenant, "Ana"), online(tenant, "Ben")
    support = department("Tier one", [ana, ben])
    spam, solved, taken = tickets_in(support, 3)
    ticket_services.mark_spam(ticket=spam, actor=tenant.admin)
    ticket_services.change_status(ticket=solved, status="solved", actor=tenant.admin)
    ticket_services.assign_ticket(ticket=taken, assignee=ben, actor=tenant.admin)

    assert services.assign_new_tickets(ticket_ids=[spam.id, solved.id, taken.id]) == 0
    assert assignees([spam, solved, taken]) == [None, None, ben.id]


def test_tickets_of_another_tenant_are_never_assigned(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    with tenant_context(globex.id):
        theirs = make_ticket()
    with tenant_context(acme.id):
        ana = online(acme, "Ana")
        department("Tier one", [ana])
        assert services.assign_new_tickets(ticket_ids=[theirs.id]) == 0
    with tenant_context(globex.id):
        assert Ticket.objects.get(id=theirs.id).assignee_id is None


@pytest.mark.django_db(transaction=True, databases=["default", "ops"])
def test_the_sweeper_hands_out_backlogs_of_tenants_that_have_one(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    with tenant_context(acme.id):
        ana = make_member(acme.tenant, name="Ana")
        support = department("Tier one", [ana])
        waiting = tickets_in(support, 2)
    # Online after the tickets were committed, without telling anyone: only the sweeper
    # knows there is work.
    Membership.objects.filter(id=ana.id).update(availability=Availability.ONLINE)
    with tenant_context(globex.id):
        department("Quiet", [])
        make_ticket()  # in the manual default department: not a backlog

    assert tasks.sweep_assignment_backlogs() == 1
    with tenant_context(acme.id):
        assert assignees(waiting) == [ana.id, ana.id]
    assert tasks.sweep_assignment_backlogs() == 0


def test_round_robin_counts_stay_within_one_across_many_batches(tenant: TenantSetup) -> None:
    agents = [online(tenant, f"Agent {i}") for i in range(7)]
    support = department("Tier one", agents)
    work = tickets_in(support, 40)
    for start in range(0, 40, 6):
        services.assign_new_tickets(ticket_ids=[t.id for t in work[start : start + 6]])
    counts = Counter(assignees(work))
    assert None not in counts
    assert max(counts.values()) - min(counts.values()) <= 1
