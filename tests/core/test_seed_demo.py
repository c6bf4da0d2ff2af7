"""`manage.py seed_demo` (what `make run` starts with): a demo tenant to click through."""

from __future__ import annotations

import datetime
import io

from django.core.management import call_command

from automation.models import CannedResponse, Rule, SlaPolicy
from automation.reports import selectors as report_selectors
from departments.models import Department
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import Tenant
from tickets.configuration import services as configuration
from tickets.models import Contact, SatisfactionRating, Ticket, TicketSearch


def test_seed_demo_builds_a_tenant_to_try_and_runs_again_harmlessly(db: None) -> None:
    call_command("seed_demo", stdout=io.StringIO())
    tenant = Tenant.objects.get(slug="demo")
    with tenant_context(tenant.id):
        assert Ticket.objects.count() > 0
        assert TicketSearch.objects.filter(tenant_id=tenant.id).count() == Ticket.objects.count()
        # The companies own their domains: their people joined them as they wrote in.
        globex = Contact.objects.get(email="tom@globex.test").company
        initech = Contact.objects.get(email="priya@initech.test").company
        assert globex is not None
        assert globex.name == "Globex"
        assert initech is not None
        assert initech.name == "Initech"
        assert [t.name for t in configuration.active_ticket_types()][:2] == ["Question", "Incident"]
        assert configuration.list_custom_fields("ticket")[0].key == "product"
        policies = SlaPolicy.objects.order_by("position")
        assert [p.name for p in policies] == ["Urgent", "Standard"]
        hours = policies[1].business_hours
        assert hours is not None
        assert hours.holidays.count() == 2
        support = Department.objects.get(is_default=True)
        assert (support.assignment_mode, support.max_open_per_agent) == ("round_robin", 5)
        assert list(Rule.objects.filter(is_active=True).values_list("name", flat=True)) == [
            "Refunds go to Billing",
            "Outages are urgent",
            "Initech is a key account",
            "After-hours auto-reply",
        ]
        # A starter set of canned responses, none signing off itself (the reply adds that).
        titles = set(CannedResponse.objects.values_list("title", flat=True))
        assert {"Need more details", "Password reset steps", "After hours"} <= titles
        assert not CannedResponse.objects.filter(body__contains="agent.name").exists()
        rated = SatisfactionRating.objects.exclude(score="")
        assert sorted(rated.values_list("score", flat=True)) == ["bad", "good", "good", "okay"]
        # The reports are not empty: the rollups were built with the seed.
        today = datetime.datetime.now(report_selectors.tenant_zone()).date()
        report = report_selectors.read_report(today - datetime.timedelta(days=60), today)
        assert report.total.created == Ticket.objects.filter(is_spam=False).count()
        assert report.total.solved > 0
        assert (report.total.csat_good, report.total.csat_okay, report.total.csat_bad) == (2, 1, 1)
    call_command("seed_demo", stdout=io.StringIO())
    assert Tenant.objects.filter(slug="demo").count() == 1
