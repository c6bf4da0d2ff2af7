"""Automatic assignment under concurrency: four real Celery worker processes take batches of
tickets (each batch queued twice, as a redelivery would) and backlog drains of two
departments at once, on the real PostgreSQL. Afterwards every ticket is assigned exactly
once, no cap is exceeded, and round-robin counts differ by at most one."""

from __future__ import annotations

import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from uuid import UUID

import pytest

from automation.assignment import tasks
from departments import services as department_services
from departments.models import Department
from helpdesk.celery import app as celery_app
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import Availability, Membership, MembershipRole
from tests.conftest import TenantSetup, make_tenant, subprocess_environment
from tests.factories.accounts import make_member
from tests.factories.tickets import make_contact
from tickets.models import Message, MessageKind, Notification, Ticket

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 4
AGENTS = 7
OPEN_TICKETS = 420  # round-robin, no cap: every one assigned, 60 each
CAPPED_TICKETS = 280  # round-robin, at most 30 each: 210 assigned, 70 wait
CAP = 30
BATCH = 10

pytestmark = [
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True, databases=["default", "ops"]),
]


def _start_worker(index: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "helpdesk",
            "worker",
            "--pool",
            "solo",
            "-Q",
            "automation",
            "-n",
            f"assign{index}@%h",
            "-l",
            "warning",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=subprocess_environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _wait(predicate: Callable[[], object], timeout: float = 90.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def _queue_idle(tenant_id: UUID) -> bool:
    """None of this tenant's tasks waiting in the automation queue or taken but not yet
    acknowledged. (By tenant: the broker database may hold another test's leftovers, such
    as the unacknowledged message of a worker killed on purpose.)"""
    marker = str(tenant_id).encode()
    with celery_app.connection_for_write() as connection:
        client = connection.default_channel.client  # type: ignore[attr-defined]
        waiting = client.lrange("automation", 0, -1)
        taken = client.hvals("unacked")
        return not any(marker in message for message in [*waiting, *taken])


def _bulk_tickets(department: Department, count: int, start: int) -> list[UUID]:
    """Unassigned open tickets, written at once (the path under test starts after them)."""
    contact = make_contact()
    tickets = Ticket.objects.bulk_create(
        [
            Ticket(
                tenant_id=department.tenant_id,
                number=start + i,
                subject=f"Request {start + i}",
                contact=contact,
                department=department,
                priority=random.choice(["low", "normal", "normal", "high", "urgent"]),
            )
            for i in range(count)
        ]
    )
    return [ticket.id for ticket in tickets]


@pytest.fixture
def workers(broker_mode: None) -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    try:
        yield started
    finally:
        for process in started:
            if process.poll() is None:
                process.terminate()
        for process in started:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()


def test_four_workers_assign_every_ticket_once_within_caps_and_in_turn(
    workers: list[subprocess.Popen[bytes]],
) -> None:
    acme: TenantSetup = make_tenant("acme", "Acme")
    agents = [
        make_member(acme.tenant, MembershipRole.AGENT, name=f"Agent {i}") for i in range(AGENTS)
    ]
    Membership.objects.filter(id__in=[a.id for a in agents]).update(
        availability=Availability.ONLINE
    )
    with tenant_context(acme.id):
        open_department = department_services.create_department(name="Open")
        department_services.update_department(
            department=open_department, members=agents, assignment_mode="round_robin"
        )
        capped = department_services.create_department(name="Capped")
        department_services.update_department(
            department=capped, members=agents, assignment_mode="round_robin", max_open_per_agent=CAP
        )
        open_ids = _bulk_tickets(open_department, OPEN_TICKETS, 1)
        capped_ids = _bulk_tickets(capped, CAPPED_TICKETS, OPEN_TICKETS + 1)
    # The drains the new settings queued would hand everything out in one transaction each:
    # the batches below are what runs concurrently.
    with celery_app.connection_for_write() as connection:
        for queue in celery_app.conf.task_queues:
            queue.bind(connection.default_channel).purge()
    # All four take part from the first task: they answer a ping once they consume.
    workers.extend(_start_worker(index) for index in range(WORKERS))
    # Four processes starting on a loaded machine (CI runs the suite in parallel): be patient.
    assert _wait(lambda: len(celery_app.control.ping(timeout=2) or []) == WORKERS, timeout=180), [
        process.poll() for process in workers
    ]
    batches = [
        ids[i : i + BATCH] for ids in (open_ids, capped_ids) for i in range(0, len(ids), BATCH)
    ]
    batches = batches * 2  # every batch twice, as a redelivered task would come
    random.Random(16).shuffle(batches)
    for index, batch in enumerate(batches):
        tasks.assign_tickets.delay(tenant_id=str(acme.id), ticket_ids=[str(i) for i in batch])
        if index % 20 == 0:  # drains of the capped backlog race with the batches
            tasks.drain_department.delay(tenant_id=str(acme.id), department_id=str(capped.id))

    idle_checks: list[bool] = []

    def done() -> bool:
        for process in workers:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
        # A message a worker has just popped is in neither list for a moment: idle counts
        # when it holds for several looks in a row.
        idle_checks.append(_queue_idle(acme.id))
        return len(idle_checks) >= 5 and all(idle_checks[-5:])

    assert _wait(done), "the workers did not empty the queue"
    for process in workers:
        process.terminate()  # warm shutdown: a task under way finishes first
    for process in workers:
        process.wait(30)
    assert _queue_idle(acme.id)

    with tenant_context(acme.id):
        tickets = dict(
            Ticket.objects.filter(department__in=[open_department, capped]).values_list(
                "id", "assignee_id"
            )
        )
        events = Counter(
            Message.objects.filter(
                kind=MessageKind.EVENT, event__field="assignee", ticket_id__in=list(tickets)
            ).values_list("ticket_id", flat=True)
        )
        notified = Counter(
            Notification.objects.filter(kind="assigned").values_list("ticket_id", flat=True)
        )
    assigned = {ticket_id for ticket_id, assignee in tickets.items() if assignee is not None}
    # Exactly once: one history event and one notification per assigned ticket, none else.
    assert set(events) == assigned
    assert set(events.values()) == {1}
    assert set(notified) == assigned
    assert set(notified.values()) == {1}

    open_counts = Counter(tickets[i] for i in open_ids)
    assert None not in open_counts
    assert len(open_counts) == AGENTS
    assert max(open_counts.values()) - min(open_counts.values()) <= 1

    capped_counts = Counter(tickets[i] for i in capped_ids)
    waiting = sum(1 for i in capped_ids if tickets[i] is None)
    held = [count for assignee, count in capped_counts.items() if assignee is not None]
    assert max(held) <= CAP
    assert sorted(held) == [CAP] * AGENTS
    assert waiting == CAPPED_TICKETS - CAP * AGENTS
