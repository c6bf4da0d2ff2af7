"""Report rollups kept by deltas while inbound mail streams in (issue 17): an inbound
batch's new tickets are added to the rows they count on in one statement instead of
today being recomputed from all of its tickets; a customer's message alone changes no
figure; any other change still marks its days for a recompute. Held to what a recompute
(and the direct computation of test_reports) gives, exactly once per ticket, per tenant,
and set right by the daily reconciliation."""

from __future__ import annotations

import datetime
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from pytest_django import DjangoCaptureOnCommitCallbacks

from automation.models import ReportCountedTicket, ReportDirtyDay, ReportRollup
from automation.reports import selectors, services, tasks
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import Tenant
from tests.automation.test_reports import _direct, _figures
from tests.conftest import TenantSetup
from tests.factories.tickets import make_ticket
from tests.tickets.test_inbound import build
from tests.tickets.test_inbound_batch import store
from tests.tickets.test_inbound_batch_followups import Calls
from tickets.mail_in import services as inbound
from tickets.models import Ticket, TicketStatus
from tickets.ticket.services.lifecycle import change_status

_VALUES = (
    "created",
    "solved",
    "reopened",
    "replies",
    "first_response_count",
    "first_response_minutes",
    "resolution_count",
    "resolution_minutes",
    "csat_good",
    "csat_bad",
    "csat_okay",
    "solves",
    "first_response_hist",
    "resolution_hist",
    "first_response_business_hist",
    "resolution_business_hist",
    "created_hours",
    "sla_met",
    "sla_missed",
)


def _rows() -> dict[tuple[Any, ...], tuple[Any, ...]]:
    """The current tenant's rollup rows (day, month and running total), by their key."""
    return {
        (row.span, row.day, row.dimension, row.key): tuple(getattr(row, n) for n in _VALUES)
        for row in ReportRollup.objects.all()
    }


@pytest.fixture
def no_schedules(monkeypatch: pytest.MonkeyPatch) -> dict[str, Calls]:
    """The refresh and the recompute are run by the test, not scheduled (eagerly)."""
    calls = {"refresh": Calls(), "recompute": Calls()}
    monkeypatch.setattr(tasks.refresh_pending_report_rollups, "apply_async", calls["refresh"])
    monkeypatch.setattr(tasks.recompute_report_rollups, "apply_async", calls["recompute"])
    return calls


def _batch(
    setup: TenantSetup,
    capture: DjangoCaptureOnCommitCallbacks,
    raws: list[bytes],
    to: str = "support@acme.localhost",
) -> list[str]:
    for raw in raws:
        store(raw, to=to)
    with capture(execute=True), tenant_context(setup.id):
        done = inbound.process_batch(limit=len(raws))
    assert [e.status for e in done] == ["processed"] * len(raws)
    return [str(e.ticket_id) for e in done]


def _refresh(setup: TenantSetup, capture: DjangoCaptureOnCommitCallbacks) -> int:
    with capture(execute=True):
        return int(
            tasks.refresh_pending_report_rollups.apply(kwargs={"tenant_id": str(setup.id)}).get()
        )


def _new(prefix: str, count: int) -> list[bytes]:
    return [
        build(
            subject=f"{prefix} {n}",
            sender=f"{prefix.lower()}{n}@example.test",
            message_id=f"<{prefix.lower()}{n}@example.test>",
        )
        for n in range(count)
    ]


def _reply(prefix: str, n: int) -> bytes:
    return build(
        subject=f"Re: {prefix} {n}",
        body="Any news?",
        sender=f"{prefix.lower()}{n}@example.test",
        In_Reply_To=f"<{prefix.lower()}{n}@example.test>",
    )


def test_deltas_after_a_stream_of_batches_equal_a_recompute_and_the_direct_computation(
    acme: TenantSetup,
    no_schedules: dict[str, Calls],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    capture = django_capture_on_commit_callbacks
    with tenant_context(acme.id):
        Tenant.objects.filter(id=acme.tenant.id).update(time_zone="Europe/Berlin")
        today = datetime.datetime.now(selectors.tenant_zone()).date()
    first = _batch(acme, capture, _new("First", 4))
    # New tickets: added by the delta, no day marked, no recompute scheduled.
    assert _refresh(acme, capture) == 4
    with tenant_context(acme.id):
        assert not ReportDirtyDay.objects.exists()
        assert no_schedules["recompute"].calls == []
        day = ReportRollup.objects.get(span="day", day=today, dimension="all")
        assert day.created == 4
        assert sum(day.created_hours) == 4
        assert (
            ReportRollup.objects.get(
                span="month", day=today.replace(day=1), dimension="all"
            ).created
            == 4
        )
        assert (
            ReportRollup.objects.get(
                span="total", day=today.replace(day=1), dimension="all"
            ).created
            == 4
        )
        # An agent solves one of them: a change like any other, its days recomputed.
        solved = Ticket.objects.get(id=first[0])
        with capture(execute=True):
            change_status(ticket=solved, status=TicketStatus.SOLVED, actor=acme.admin)
        assert list(ReportDirtyDay.objects.values_list("day", flat=True)) == [today]
        services.recompute_dirty_days()
    # Customers answer: the solved ticket reopens (its days recomputed), the others only
    # receive a message (nothing to do); new tickets come in beside them.
    _batch(acme, capture, [_reply("First", 0), _reply("First", 1), *_new("Second", 3)])
    with tenant_context(acme.id):
        assert Ticket.objects.get(id=first[0]).status == TicketStatus.OPEN
    assert _refresh(acme, capture) == 3 + 1  # three added, today marked
    with tenant_context(acme.id):
        assert list(ReportDirtyDay.objects.values_list("day", flat=True)) == [today]
        services.recompute_dirty_days()
    _batch(acme, capture, [_reply("First", 2), _reply("Second", 1), *_new("Third", 5)])
    _batch(acme, capture, [_reply("Third", 4), *_new("Fourth", 2)])
    assert _refresh(acme, capture) == 7
    with tenant_context(acme.id):
        assert not ReportDirtyDay.objects.exists()
        by_delta = _rows()
        payload = selectors.report_payload(selectors.read_report(today, today))
        assert payload["tickets_created"] == 14
        assert payload["tickets_reopened"] == 1
        assert _figures(payload) == _direct(today, today)
        services.recompute_days(days=[today])
        assert _rows() == by_delta


def test_a_retried_delta_counts_nothing_twice(
    acme: TenantSetup,
    no_schedules: dict[str, Calls],
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    capture = django_capture_on_commit_callbacks
    ids = _batch(acme, capture, _new("One", 3))
    # Beside the new tickets, one changed ticket whose days the refresh marks after the
    # delta; the marking fails: the whole transaction goes, the tickets stay pending.
    tasks.refresh_report_rollups_soon(tenant_id=str(acme.id), changes=[(ids[1], "status")])

    def broken(**_: Any) -> int:
        raise RuntimeError("mark failed")

    with monkeypatch.context() as patch:
        patch.setattr(services, "mark_days_dirty", broken)
        with pytest.raises(RuntimeError):
            _refresh(acme, capture)
    with tenant_context(acme.id):
        today = datetime.datetime.now(selectors.tenant_zone()).date()
        assert not ReportRollup.objects.exists()
        assert not ReportCountedTicket.objects.exists()
    # Run again, and again (a redelivered task): each ticket counted once.
    assert _refresh(acme, capture) == 3 + 1  # three added, today marked
    assert _refresh(acme, capture) == 0
    with tenant_context(acme.id):
        assert ReportRollup.objects.get(span="day", day=today, dimension="all").created == 3
        # The delta itself, asked again for the same tickets, adds nothing.
        assert services.count_new_tickets(ticket_ids=ids) == (0, [])
        for span, day in (("day", today), ("month", today.replace(day=1))):
            assert ReportRollup.objects.get(span=span, day=day, dimension="all").created == 3
        assert (
            ReportRollup.objects.get(
                span="total", day=today.replace(day=1), dimension="all"
            ).created
            == 3
        )
        services.recompute_dirty_days()
        assert ReportRollup.objects.get(span="day", day=today, dimension="all").created == 3


def test_a_delta_after_a_recompute_that_saw_its_tickets_adds_nothing(
    acme: TenantSetup,
    no_schedules: dict[str, Calls],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    capture = django_capture_on_commit_callbacks
    _batch(acme, capture, _new("Early", 2))
    with tenant_context(acme.id):
        today = datetime.datetime.now(selectors.tenant_zone()).date()
        # A recompute of today (another change) runs before the batch's delta.
        services.recompute_days(days=[today])
        assert ReportCountedTicket.objects.count() == 2
    assert _refresh(acme, capture) == 0
    with tenant_context(acme.id):
        assert ReportRollup.objects.get(span="day", day=today, dimension="all").created == 2
        assert not ReportDirtyDay.objects.exists()


def test_a_new_ticket_of_an_older_day_is_recomputed_not_added(
    acme: TenantSetup,
    no_schedules: dict[str, Calls],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    capture = django_capture_on_commit_callbacks
    with tenant_context(acme.id), capture(execute=False):
        old = make_ticket(subject="Imported")
        long_ago = old.created_at - datetime.timedelta(days=9)
        Ticket.objects.filter(id=old.id).update(created_at=long_ago)
        day = long_ago.astimezone(selectors.tenant_zone()).date()
    tasks.refresh_report_rollups_soon(tenant_id=str(acme.id), changes=[(str(old.id), "created")])
    _refresh(acme, capture)
    with tenant_context(acme.id):
        assert day in set(ReportDirtyDay.objects.values_list("day", flat=True))
        assert not ReportCountedTicket.objects.exists()
        services.recompute_dirty_days()
        assert ReportRollup.objects.get(span="day", day=day, dimension="all").created == 1


def test_the_first_tickets_of_a_month_carry_the_running_total_over(
    acme: TenantSetup,
    no_schedules: dict[str, Calls],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    """A month's first delta has no running total to add to: the totals are summed again
    from that month on, carrying March's tickets into April's total."""
    capture = django_capture_on_commit_callbacks
    zone = ZoneInfo("UTC")
    with time_machine.travel(datetime.datetime(2026, 3, 31, 22, 0, tzinfo=zone), tick=False):
        _batch(acme, capture, _new("March", 3))
        assert _refresh(acme, capture) == 3
    with time_machine.travel(datetime.datetime(2026, 4, 1, 9, 0, tzinfo=zone), tick=False):
        _batch(acme, capture, _new("April", 2))
        assert _refresh(acme, capture) == 2
        with tenant_context(acme.id):
            totals = ReportRollup.objects.filter(span="total", dimension="all").order_by("day")
            assert [(row.day, row.created) for row in totals] == [
                (datetime.date(2026, 3, 1), 3),
                (datetime.date(2026, 4, 1), 5),
            ]
            by_delta = _rows()
            services.recompute_days(days=[datetime.date(2026, 3, 31), datetime.date(2026, 4, 1)])
            assert _rows() == by_delta
            # Marks of days no delta reaches any more are pruned by the next delta.
            assert set(ReportCountedTicket.objects.values_list("day", flat=True)) == {
                datetime.date(2026, 3, 31),
                datetime.date(2026, 4, 1),
            }
    with time_machine.travel(datetime.datetime(2026, 4, 3, 9, 0, tzinfo=zone), tick=False):
        _batch(acme, capture, _new("Later", 1))
        assert _refresh(acme, capture) == 1
        with tenant_context(acme.id):
            assert set(ReportCountedTicket.objects.values_list("day", flat=True)) == {
                datetime.date(2026, 4, 3)
            }


def test_deltas_stay_in_their_tenant(
    acme: TenantSetup,
    globex: TenantSetup,
    no_schedules: dict[str, Calls],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    capture = django_capture_on_commit_callbacks
    acme_ids = _batch(acme, capture, _new("Acme", 3))
    _batch(globex, capture, _new("Globex", 2), to=globex.mailbox.address)
    assert _refresh(acme, capture) == 3
    with tenant_context(globex.id):
        today = datetime.datetime.now(selectors.tenant_zone()).date()
        assert not ReportRollup.objects.exists()
        assert not ReportCountedTicket.objects.exists()
        # Acme's ticket ids handed to Globex's delta count nothing there.
        assert services.count_new_tickets(ticket_ids=acme_ids) == (0, [])
    assert _refresh(globex, capture) == 2
    for setup, created in ((acme, 3), (globex, 2)):
        with tenant_context(setup.id):
            assert (
                ReportRollup.objects.get(span="day", day=today, dimension="all").created == created
            )
            assert ReportCountedTicket.objects.count() == created


def test_reasons_sort_a_batchs_changes() -> None:
    created, changed = tasks.sort_changes(
        [
            ("a", "created"),
            ("a", "customer_message"),  # a new ticket answered again in its batch
            ("b", "customer_message"),  # a message alone: nothing to do
            ("c", "customer_message"),
            ("c", "status"),  # reopened
            ("d", "created"),
            ("d", "status"),
        ]
    )
    assert created == ["a"]
    assert changed == ["c", "d"]


def test_the_daily_reconciliation_sets_drift_right(
    tenant: TenantSetup,
    no_schedules: dict[str, Calls],
) -> None:
    zone = selectors.tenant_zone()
    yesterday = datetime.datetime.now(zone).date() - datetime.timedelta(days=1)
    for n in range(3):
        ticket = make_ticket(subject=f"Yesterday {n}")
        Ticket.objects.filter(id=ticket.id).update(
            created_at=datetime.datetime.combine(yesterday, datetime.time(10 + n), tzinfo=zone)
        )
    services.recompute_days(days=[yesterday])
    right = _rows()
    ReportRollup.objects.filter(span="day", day=yesterday, dimension="all").update(
        created=7, created_hours=[7]
    )
    assert tasks.reconcile_report_day.apply(kwargs={"tenant_id": str(tenant.id)}).get() == 1
    assert no_schedules["recompute"].calls == [{"tenant_id": str(tenant.id)}]
    services.recompute_dirty_days()
    assert _rows() == right
    assert ReportRollup.objects.get(span="day", day=yesterday, dimension="all").created == 3


def test_the_reconciliation_waits_for_the_small_hours_in_the_tenants_zone(
    acme: TenantSetup, monkeypatch: pytest.MonkeyPatch
) -> None:
    Tenant.objects.filter(id=acme.tenant.id).update(time_zone="America/New_York")
    due = Calls()
    monkeypatch.setattr(tasks.reconcile_report_day, "delay", due)
    # 03:35 in New York is 08:35 UTC in December.
    with time_machine.travel(datetime.datetime(2026, 12, 7, 8, 35, tzinfo=datetime.UTC)):
        tasks.reconcile_report_rollups()
    assert {"tenant_id": str(acme.id)} in due.calls
    due.calls.clear()
    with time_machine.travel(datetime.datetime(2026, 12, 7, 3, 35, tzinfo=datetime.UTC)):
        tasks.reconcile_report_rollups()
    assert {"tenant_id": str(acme.id)} not in due.calls


def test_a_refresh_does_not_wait_for_a_running_recompute(
    acme: TenantSetup,
    no_schedules: dict[str, Calls],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    """While a recompute holds the tenant's rollups, the refresh leaves the new tickets
    pending and comes back a few seconds later, instead of holding a worker until then."""
    capture = django_capture_on_commit_callbacks
    ids = _batch(acme, capture, _new("Busy", 2))
    recompute = psycopg.connect(**connection.get_connection_params())
    try:
        recompute.execute(
            "SELECT pg_advisory_xact_lock(hashtext('automation.reports'), hashtext(%s))",
            [str(acme.id)],
        )
        assert _refresh(acme, capture) == 0
    finally:
        recompute.rollback()
        recompute.close()
    assert no_schedules["refresh"].calls[-1] == {"tenant_id": str(acme.id)}
    members = tasks._redis().smembers(tasks._created_key(str(acme.id)))
    assert {m.decode() if isinstance(m, bytes) else str(m) for m in members} == set(ids)
    assert _refresh(acme, capture) == 2
    with tenant_context(acme.id):
        today = datetime.datetime.now(selectors.tenant_zone()).date()
        assert ReportRollup.objects.get(span="day", day=today, dimension="all").created == 2


@pytest.mark.django_db(databases=["default", "ops"])
def test_the_sweeper_schedules_a_refresh_that_was_lost(
    acme: TenantSetup,
    no_schedules: dict[str, Calls],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    capture = django_capture_on_commit_callbacks
    tenant = str(acme.id)

    def refreshes() -> int:  # of this tenant (Redis may hold other tests' tenants)
        return no_schedules["refresh"].calls.count({"tenant_id": tenant})

    _batch(acme, capture, _new("Lost", 2))
    assert refreshes() == 1
    tasks.sweep_report_rollups()  # the refresh is scheduled (its claim holds)
    assert refreshes() == 1
    cache.delete(tasks._refresh_claim_key(tenant))  # it was lost, its claim expired
    tasks.sweep_report_rollups()
    assert refreshes() == 2
    assert _refresh(acme, capture) == 2
    cache.delete(tasks._refresh_claim_key(tenant))
    tasks.sweep_report_rollups()  # nothing pending any more
    assert refreshes() == 2
