"""Reports show the help center's deflections with their rate: of the visitors who needed
help, the share who found it in a suggested article instead of sending the request form
(tickets on the web channel). In the summary API, the CSV and the page; another tenant's
deflections never count."""

from __future__ import annotations

import csv
import datetime
import io

import time_machine

from automation.reports import selectors, services
from helpdesk.tenancy.context import tenant_context
from knowledge_base.models import Deflection
from tests.conftest import TenantSetup
from tests.factories.knowledge_base import make_article, make_category
from tests.factories.tickets import make_ticket
from tickets.models import TicketChannel

DAY = datetime.date(2026, 3, 4)
QUERY = "from=2026-03-04&to=2026-03-04"


def _help_center_day(setup: TenantSetup, *, deflected: int, web: int, email: int) -> None:
    moment = datetime.datetime(2026, 3, 4, 10, 0, tzinfo=datetime.UTC)
    with time_machine.travel(moment), tenant_context(setup.id):
        article = make_article(make_category("Accounts"), "Reset your password", "Link.")
        for n in range(deflected):
            Deflection.objects.create(article=article, visitor=f"visitor-{n}")
        # Opened a suggestion and then wrote anyway: a request, not a deflection.
        Deflection.objects.create(article=article, visitor="asked", asked_anyway=True)
        for n in range(web):
            make_ticket(subject=f"Web {n}", channel=TicketChannel.WEB)
        for n in range(email):
            make_ticket(subject=f"Mail {n}", channel=TicketChannel.EMAIL)
        services.rebuild(start=DAY, end=DAY)


def test_the_rate_is_deflections_out_of_deflections_and_web_requests(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    _help_center_day(acme, deflected=3, web=9, email=5)
    _help_center_day(globex, deflected=7, web=0, email=0)
    with tenant_context(acme.id):
        report = selectors.read_report(DAY, DAY)
    assert (report.deflections, report.deflection_rate_percent) == (3, 25.0)
    body = acme.api_client().get(f"/api/v1/reports/summary/?{QUERY}").json()
    assert (body["deflections"], body["deflection_rate_percent"]) == (3, 25.0)
    export = acme.client(acme.admin).get(f"/reports/export.csv?{QUERY}")
    summary = next(csv.DictReader(io.StringIO(export.content.decode())))
    assert (summary["deflections"], summary["deflection_rate_percent"]) == ("3", "25.0")
    page = acme.client(acme.admin).get(f"/reports/?{QUERY}").content.decode()
    assert "25.0% of help-center requests" in page
    other = globex.api_client().get(f"/api/v1/reports/summary/?{QUERY}").json()
    assert (other["deflections"], other["deflection_rate_percent"]) == (7, 100.0)


def test_without_help_center_activity_the_rate_is_empty(acme: TenantSetup) -> None:
    _help_center_day(acme, deflected=0, web=0, email=4)
    body = acme.api_client().get(f"/api/v1/reports/summary/?{QUERY}").json()
    assert (body["deflections"], body["deflection_rate_percent"]) == (0, None)
    page = acme.client(acme.admin).get(f"/reports/?{QUERY}").content.decode()
    assert "No help-center requests" in page
