"""Report tasks: ticket changes mark days dirty and one debounced recompute follows; the
sweeper recovers a lost recompute; the weekly summary goes to each admin once, through the
outbox, on Monday morning in the tenant's zone."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail as django_mail
from pytest_django import DjangoCaptureOnCommitCallbacks

from automation.models import ReportDirtyDay, ReportMailOptOut, ReportRollup
from automation.reports import selectors, services, tasks
from helpdesk.mail.models import OutboundEmail
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import MembershipRole, Tenant
from tests.conftest import TenantSetup
from tests.factories.accounts import make_member
from tests.factories.tickets import make_ticket

ZONE = "America/New_York"


def test_changes_mark_days_and_the_recompute_clears_them(
    tenant: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        ticket = make_ticket(subject="First")
    today = datetime.datetime.now(selectors.tenant_zone()).date()
    assert not ReportDirtyDay.objects.exists()
    assert ReportRollup.objects.get(span="day", day=today, dimension="all").created == 1
    # Marked twice is marked once; the recompute reads them all and unmarks them.
    assert services.mark_days_dirty(days=[today, today]) == 1
    assert services.mark_days_dirty(days=[today]) == 0
    assert services.recompute_dirty_days() > 0
    assert not ReportDirtyDay.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        make_ticket(subject="Second")
        ticket.subject = "First, renamed"
        ticket.save(update_fields=["subject"])
    assert ReportRollup.objects.get(span="day", day=today, dimension="all").created == 2


@pytest.mark.django_db(transaction=True, databases=["default", "ops"])
def test_the_sweeper_recomputes_days_whose_task_was_lost(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    day = datetime.date(2026, 3, 2)
    with tenant_context(acme.id):
        services.mark_days_dirty(days=[day])
        ReportDirtyDay.objects.update(marked_at=datetime.datetime(2026, 3, 2, tzinfo=datetime.UTC))
    with tenant_context(globex.id):
        services.mark_days_dirty(days=[day])  # just marked: its own task is on the way
    assert tasks.sweep_report_rollups() == 1
    with tenant_context(acme.id):
        assert not ReportDirtyDay.objects.exists()
    with tenant_context(globex.id):
        assert ReportDirtyDay.objects.count() == 1


def _monday_morning() -> datetime.datetime:
    return datetime.datetime(2026, 3, 9, 8, 30, tzinfo=ZoneInfo(ZONE))


def test_the_weekly_summary_goes_to_each_admin_once(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        Tenant.objects.filter(id=acme.id).update(time_zone=ZONE)
        second_admin = make_member(acme.tenant, MembershipRole.ADMIN, name="Second Admin")
        quiet_admin = make_member(acme.tenant, MembershipRole.ADMIN, name="Quiet Admin")
        make_member(acme.tenant, MembershipRole.AGENT)
        services.set_weekly_report(member=quiet_admin, wanted=False)
        with time_machine.travel(datetime.datetime(2026, 3, 4, 15, tzinfo=ZoneInfo(ZONE))):
            make_ticket(subject="Last week")
        services.rebuild(start=datetime.date(2026, 3, 1), end=datetime.date(2026, 3, 9))
    django_mail.outbox.clear()
    with time_machine.travel(_monday_morning(), tick=False):
        assert tasks.send_weekly_reports() >= 1
        with tenant_context(acme.id):
            emails = list(OutboundEmail.objects.filter(key__startswith="weekly-report:"))
            assert sorted(e.to[0] for e in emails) == sorted(
                [acme.admin.user.email, second_admin.user.email]
            )
            assert {e.key.split(":")[1] for e in emails} == {"2026-03-02"}
            email = emails[0]
            assert "2 Mar to 8 Mar 2026" in email.subject
            assert "Created:          1" in email.body_text
            assert "/reports/?from=2026-03-02&to=2026-03-08" in email.body_text
            assert email.body_html
            # A second run (an hour later, a redelivered task) sends nothing more.
            assert services.send_weekly_reports() == 0
            assert OutboundEmail.objects.filter(key__startswith="weekly-report:").count() == 2
            assert ReportMailOptOut.objects.count() == 1


def test_the_weekly_summary_waits_for_monday_morning_in_the_tenants_zone(
    acme: TenantSetup,
) -> None:
    Tenant.objects.filter(id=acme.id).update(time_zone=ZONE)
    # 06:30 on Monday in New York (10:30 UTC, summer time since Sunday): not yet.
    with time_machine.travel(datetime.datetime(2026, 3, 9, 10, 30, tzinfo=datetime.UTC)):
        assert acme.id not in _due()
    with time_machine.travel(_monday_morning()):
        assert acme.id in _due()
    with time_machine.travel(datetime.datetime(2026, 3, 10, 8, tzinfo=ZoneInfo(ZONE))):
        assert acme.id not in _due()


def _due() -> set[object]:
    now = datetime.datetime.now(datetime.UTC)
    return {
        tenant.id for tenant in Tenant.objects.all() if tasks._is_weekly_time(now, tenant.time_zone)
    }
