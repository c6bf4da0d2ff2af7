"""What follows a drained batch, once per batch and not once per mail: one delivery task
for its acknowledgements, its tickets' report rollups refreshed by one coalesced task per
tenant (however many batches), its Cc'd followers added in one statement, and one
notification per answered ticket and assignee, mailed by one task."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pytest_django import DjangoCaptureOnCommitCallbacks

from automation.models import ReportDirtyDay, ReportRollup
from automation.reports import selectors as report_selectors
from automation.reports import services as report_services
from automation.reports import tasks as report_tasks
from helpdesk.mail import tasks as mail_tasks
from helpdesk.tenancy.context import tenant_context
from tests.conftest import TenantSetup
from tests.factories.accounts import make_member
from tests.tickets.test_inbound import build
from tests.tickets.test_inbound_batch import store
from tickets.mail_in import services as inbound
from tickets.models import Notification, Ticket, TicketFollower
from tickets.notifications import tasks as notification_tasks


class Calls:
    """Records a task's publications instead of running them."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []  # the task's arguments
        self.options: list[dict[str, Any]] = []  # apply_async's own (countdown)

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append(kwargs.get("kwargs", kwargs))
        self.options.append({k: v for k, v in kwargs.items() if k != "kwargs"})


def _batch(
    acme: TenantSetup, capture: DjangoCaptureOnCommitCallbacks, raws: list[bytes]
) -> list[str]:
    for raw in raws:
        store(raw)
    with capture(execute=True), tenant_context(acme.id):
        done = inbound.process_batch(limit=len(raws))
    assert [e.status for e in done] == ["processed"] * len(raws)
    return [str(e.ticket_id) for e in done]


def _pending(acme: TenantSetup) -> set[str]:
    """The tickets waiting for the tenant's refresh: changed ones and new ones."""
    client, tenant = report_tasks._redis(), str(acme.id)
    members = client.sunion(report_tasks._pending_key(tenant), report_tasks._created_key(tenant))
    return {m.decode() if isinstance(m, bytes) else str(m) for m in members}


def test_batches_enqueue_one_delivery_task_each_and_one_rollup_refresh_between_them(
    acme: TenantSetup,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    deliveries, single, refreshes, per_batch = Calls(), Calls(), Calls(), Calls()
    monkeypatch.setattr(mail_tasks.deliver_outbound_emails, "delay", deliveries)
    monkeypatch.setattr(mail_tasks.deliver_outbound_email, "delay", single)
    monkeypatch.setattr(report_tasks.refresh_pending_report_rollups, "apply_async", refreshes)
    monkeypatch.setattr(report_tasks.refresh_report_rollups, "delay", per_batch)
    first = _batch(
        acme,
        django_capture_on_commit_callbacks,
        [build(subject=f"First {n}", sender=f"f{n}@example.test") for n in range(4)],
    )
    assert len(deliveries.calls) == 1
    assert len(deliveries.calls[0]["outbound_email_ids"]) == 4
    assert single.calls == []
    # The rollups: no refresh per batch, one coalesced refresh in a few seconds.
    assert per_batch.calls == []
    assert refreshes.calls == [{"tenant_id": str(acme.id)}]
    assert _pending(acme) == set(first)
    second = _batch(
        acme,
        django_capture_on_commit_callbacks,
        [build(subject=f"Second {n}", sender=f"s{n}@example.test") for n in range(3)],
    )
    assert len(deliveries.calls) == 2
    assert len(refreshes.calls) == 1  # the one scheduled takes these tickets too
    assert _pending(acme) == {*first, *second}

    # The refresh adds every pending new ticket to the rollups (a delta: no day marked for
    # a recompute), then empties the sets; a second run (a redelivered task) finds nothing
    # to do.
    recomputes = Calls()
    monkeypatch.setattr(report_tasks.recompute_report_rollups, "apply_async", recomputes)
    with django_capture_on_commit_callbacks(execute=True):
        added = report_tasks.refresh_pending_report_rollups.apply(
            kwargs={"tenant_id": str(acme.id)}
        ).get()
    assert added == 7
    with tenant_context(acme.id):
        today = datetime.datetime.now(report_selectors.tenant_zone()).date()
        assert not ReportDirtyDay.objects.exists()
        assert ReportRollup.objects.get(span="day", day=today, dimension="all").created == 7
    assert recomputes.calls == []
    assert _pending(acme) == set()
    assert (
        report_tasks.refresh_pending_report_rollups.apply(kwargs={"tenant_id": str(acme.id)}).get()
        == 0
    )
    # The next batch schedules the next refresh.
    _batch(acme, django_capture_on_commit_callbacks, [build(subject="Third")])
    assert len(refreshes.calls) == 2


def test_a_failed_refresh_leaves_its_tickets_pending(
    acme: TenantSetup,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    monkeypatch.setattr(report_tasks.refresh_pending_report_rollups, "apply_async", Calls())
    tickets = _batch(acme, django_capture_on_commit_callbacks, [build(subject="One")])

    def broken(**_: Any) -> int:
        raise RuntimeError("delta failed")

    monkeypatch.setattr(report_services, "count_new_tickets", broken)
    with pytest.raises(RuntimeError), django_capture_on_commit_callbacks(execute=True):
        report_tasks.refresh_pending_report_rollups.apply(kwargs={"tenant_id": str(acme.id)}).get()
    assert _pending(acme) == set(tickets)


def test_a_recompute_waits_in_proportion_to_how_long_the_last_one_took(
    acme: TenantSetup, monkeypatch: pytest.MonkeyPatch
) -> None:
    scheduled = Calls()
    monkeypatch.setattr(report_tasks.recompute_report_rollups, "apply_async", scheduled)
    tenant = str(acme.id)
    cache.delete(report_tasks._claim_key(tenant))
    cache.set(report_tasks._took_key(tenant), 12.5)
    report_tasks._schedule_recompute(tenant)
    report_tasks._schedule_recompute(tenant)  # one is scheduled already
    assert scheduled.options == [{"countdown": 50}]
    cache.delete(report_tasks._claim_key(tenant))
    cache.delete(report_tasks._took_key(tenant))
    report_tasks._schedule_recompute(tenant)
    assert scheduled.options[-1] == {"countdown": report_tasks.DEBOUNCE_SECONDS}
    cache.delete(report_tasks._claim_key(tenant))


def test_a_batchs_followers_are_added_in_one_statement(
    acme: TenantSetup,
    globex: TenantSetup,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    raws = [
        build(subject="A", sender="ann@example.test", Cc="bo@example.test, cy@example.test"),
        # Another tenant's mailbox is never a follower.
        build(subject="B", sender="ben@example.test", Cc="support@globex.localhost"),
        build(subject="C", sender="cat@example.test", Cc="Bo <bo@example.test>"),
    ]
    for raw in raws:
        store(raw)
    with (
        django_capture_on_commit_callbacks(execute=True),
        tenant_context(acme.id),
        CaptureQueriesContext(connection) as captured,
    ):
        inbound.process_batch(limit=3)
    inserts = [
        q for q in captured.captured_queries if "INSERT INTO tickets_ticketfollower" in q["sql"]
    ]
    assert len(inserts) == 1
    with tenant_context(acme.id):
        followers = {
            (subject, email)
            for subject, email in TicketFollower.objects.values_list(
                "ticket__subject", "contact__email"
            )
        }
    assert followers == {
        ("A", "bo@example.test"),
        ("A", "cy@example.test"),
        ("C", "bo@example.test"),
    }


def test_customer_replies_notify_each_assignee_once_per_ticket_and_batch(
    acme: TenantSetup,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    _batch(
        acme,
        django_capture_on_commit_callbacks,
        [
            build(subject="One", sender="o@example.test", message_id="<one@example.test>"),
            build(subject="Two", sender="t@example.test", message_id="<two@example.test>"),
        ],
    )
    agent = make_member(acme.tenant)
    with tenant_context(acme.id):
        Ticket.objects.update(assignee=agent)
    mailed, one_by_one = Calls(), Calls()
    monkeypatch.setattr(notification_tasks.send_agent_notifications, "delay", mailed)
    monkeypatch.setattr(notification_tasks.send_agent_notification, "delay", one_by_one)
    _batch(
        acme,
        django_capture_on_commit_callbacks,
        [
            build(
                subject="Re: One",
                sender="o@example.test",
                body="a",
                In_Reply_To="<one@example.test>",
            ),
            build(
                subject="Re: One",
                sender="o@example.test",
                body="b",
                In_Reply_To="<one@example.test>",
            ),
            build(
                subject="Re: Two",
                sender="t@example.test",
                body="c",
                In_Reply_To="<two@example.test>",
            ),
        ],
    )
    assert one_by_one.calls == []
    assert len(mailed.calls) == 1
    with tenant_context(acme.id):
        notes = list(
            Notification.objects.filter(kind="customer_replied").values_list(
                "member_id", "ticket__subject", "message__body_text", "id"
            )
        )
    assert sorted((m, s, b) for m, s, b, _ in notes) == [
        (agent.id, "One", "b"),
        (agent.id, "Two", "c"),
    ]
    assert sorted(mailed.calls[0]["notification_ids"]) == sorted(str(n[3]) for n in notes)
