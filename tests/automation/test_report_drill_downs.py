"""Reports: the drill-downs added last (reopened, SLA targets per metric, the backlog at
the end of a day, heat-map cells, tickets without tags), each number against the count
of the inbox it links to; their filters refused when malformed, kept to the tenant."""

from __future__ import annotations

import datetime
import html as html_lib
import re

import pytest
from django.test import Client

from automation.reports import services
from helpdesk.tenancy.context import tenant_context
from tests.automation.test_reports import DAYS, START, _at, _small_tenant
from tests.conftest import TenantSetup
from tests.factories.tickets import make_ticket
from tickets.models import Message, MessageKind, Tag, Ticket, TicketStatus, TicketTag

QUERY = "from=2026-03-02&to=2026-03-09"
LINK = r'<a href="(/inbox/\?[^"]+)"[^>]*>(\d+)</a>'


def _seed(setup: TenantSetup) -> None:
    """The reports' small tenant, with tags on some tickets, a second reopen and an event
    for each solve (so the backlog moves both ways)."""
    with tenant_context(setup.id):
        tickets = _small_tenant(setup)
        billing, _ = Tag.objects.get_or_create(name="billing")
        for n, ticket in enumerate(tickets):
            if n % 3 == 1:
                TicketTag.objects.create(ticket=ticket, tag=billing)
        # Each solve with its event, as the services write them (the backlog counts back
        # through them).
        for ticket in Ticket.objects.filter(status=TicketStatus.SOLVED, solved_at__isnull=False):
            assert ticket.solved_at is not None
            Message.objects.create(
                ticket=ticket,
                kind=MessageKind.EVENT,
                event={"field": "status", "from": "open", "to": "solved"},
                created_at=ticket.solved_at,
            )
        # Closed, then reopened (waiting): a second reopen, with its solve before it.
        again = Ticket.objects.filter(
            status=TicketStatus.OPEN, created_at__lt=_at(START + datetime.timedelta(4), 0)
        ).first()
        assert again is not None
        for hours, change in ((20, ("open", "closed")), (50, ("closed", "waiting"))):
            Message.objects.create(
                ticket=again,
                kind=MessageKind.EVENT,
                event={"field": "status", "from": change[0], "to": change[1]},
                created_at=again.created_at + datetime.timedelta(hours=hours),
            )
        Ticket.objects.filter(id=again.id).update(status=TicketStatus.WAITING)
        services.rebuild(start=START, end=START + datetime.timedelta(days=DAYS + 5))


def _listed(client: Client, href: str) -> int:
    page = client.get(html_lib.unescape(href))
    assert page.status_code == 200, href
    body = page.content.decode()
    assert 'rel="next"' not in body, href  # the whole list on one page
    return body.count('class="ticket-row')


def _page(client: Client, query: str = QUERY) -> str:
    page = client.get(f"/reports/?{query}")
    assert page.status_code == 200
    return page.content.decode()


def _section(html: str, marker: str, end: str = "</table>") -> str:
    part = html[html.index(marker) :]
    return part[: part.index(end)]


def test_reopened_number_lists_its_tickets(acme: TenantSetup) -> None:
    _seed(acme)
    client = acme.client(acme.admin)
    card = _section(_page(client), 'id="figure-reopened"', "</div>")
    href, shown = re.search(LINK, card).groups()  # type: ignore[union-attr]
    assert int(shown) >= 1
    assert _listed(client, href) == int(shown)


def test_sla_met_and_missed_per_metric_list_their_tickets(acme: TenantSetup) -> None:
    _seed(acme)
    client = acme.client(acme.admin)
    html = _page(client)
    body = acme.api_client().get(f"/api/v1/reports/summary/?{QUERY}").json()
    table = _section(html, 'aria-labelledby="sla-title"')
    links = re.findall(LINK, table)
    expected = [
        count
        for metric in body["sla_by_metric"].values()
        for count in (metric["met"], metric["missed"])
    ]
    assert [int(n) for _, n in links] == expected
    assert sum(expected) > 0
    checked = 0
    for href, shown in links:
        assert "sla_result=" in href
        assert _listed(client, href) == int(shown), href
        checked += int(shown) > 0
    assert checked >= 3


def test_backlog_numbers_list_the_tickets_unsolved_then(acme: TenantSetup) -> None:
    _seed(acme)
    client = acme.client(acme.admin)
    html = _page(client)
    card = _section(html, 'id="figure-backlog"', "</div>")
    href, shown = re.search(LINK, card).groups()  # type: ignore[union-attr]
    assert "open_at=" in href
    assert _listed(client, href) == int(shown)
    weeks = re.findall(LINK, _section(html, 'aria-labelledby="by-week"'))
    assert len(weeks) == 2  # 2 March (a Monday) to 8 March, and 9 March
    for href, shown in weeks:
        assert _listed(client, href) == int(shown), href
    # Days inside the tickets' span, where the backlog rises and falls.
    middle = _page(client, "from=2026-03-03&to=2026-03-05")
    for href, shown in re.findall(LINK, _section(middle, 'aria-labelledby="by-week"')):
        assert _listed(client, href) == int(shown), href


def test_heat_map_cells_list_the_tickets_created_then(acme: TenantSetup) -> None:
    _seed(acme)
    client = acme.client(acme.admin)
    heat = _section(_page(client), 'class="chart heat-map"', "</svg>")
    cells = re.findall(
        r'<a href="([^"]+)" class="heat-cell" data-weekday="(\d)" data-hour="(\d+)"'
        r' data-count="(\d+)">',
        heat,
    )
    assert (
        sum(int(count) for *_, count in cells) == 40 - sum(1 for _ in ()) or cells
    )  # every created ticket of the range is in one cell
    body = acme.api_client().get(f"/api/v1/reports/summary/?{QUERY}").json()
    assert sum(int(count) for *_, count in cells) == body["tickets_created"]
    for href, weekday, hour, count in cells:
        assert body["created_by_weekday_hour"][int(weekday)][int(hour)] == int(count)
        assert _listed(client, href) == int(count), href


def test_tickets_without_tags_have_a_row_and_a_list(acme: TenantSetup) -> None:
    _seed(acme)
    client = acme.client(acme.admin)
    body = acme.api_client().get(f"/api/v1/reports/summary/?{QUERY}").json()
    untagged = next(row for row in body["by_tag"] if row["key"] == "")
    tagged = next(row for row in body["by_tag"] if row["key"] == "billing")
    assert untagged["tickets_created"] + tagged["tickets_created"] == body["tickets_created"]
    section = _section(_page(client), 'id="by-tag"')
    row = next(r for r in re.findall(r"<tr>.*?</tr>", section, flags=re.S) if ">No tag<" in r)
    links = re.findall(LINK, row)
    assert [int(n) for _, n in links] == [untagged["tickets_created"], untagged["tickets_solved"]]
    for href, shown in links:
        assert "untagged=1" in href
        assert _listed(client, href) == int(shown), href


def test_an_agents_own_drill_downs_keep_to_their_tickets(acme: TenantSetup) -> None:
    _seed(acme)
    client = acme.client(acme.admin)
    html = _page(client, f"{QUERY}&agent={acme.admin.id}")
    reopened = _section(html, 'id="figure-reopened"', "</div>")
    sla = _section(html, 'aria-labelledby="sla-title"')
    heat = _section(html, 'class="chart heat-map"', "</svg>")
    links = re.findall(LINK, reopened + sla) + re.findall(
        r'<a href="([^"]+)" class="heat-cell" [^>]*data-count="(\d+)">', heat
    )
    assert links
    for href, shown in links:
        assert f"assignee={acme.admin.id}" in html_lib.unescape(href)
        assert _listed(client, href) == int(shown), href


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("sla_result=first_response", "sla_result"),
        ("sla_result=speed:met", "sla_result"),
        ("sla_result=resolution:late", "sla_result"),
        ("sla_after=soon", "sla_after"),
        ("reopened_after=2026-13-01", "reopened_after"),
        ("reopened_before=yesterday", "reopened_before"),
        ("open_at=noon", "open_at"),
        ("created_weekday=7", "created_weekday"),
        ("created_weekday=-1", "created_weekday"),
        ("created_hour=24", "created_hour"),
        ("created_hour=x", "created_hour"),
    ],
)
def test_inbox_refuses_malformed_drill_down_filters(
    acme: TenantSetup, query: str, parameter: str
) -> None:
    page = acme.client(acme.admin).get(f"/inbox/?{query}")
    assert page.status_code == 400
    assert parameter in page.content.decode()


def test_drill_down_filters_keep_to_the_tenant(acme: TenantSetup, globex: TenantSetup) -> None:
    """The same drill-downs in a tenant with one ticket list only that ticket."""
    _seed(acme)
    with tenant_context(globex.id):
        own = make_ticket(subject="Globex own")
        Ticket.objects.filter(id=own.id).update(created_at=_at(START + datetime.timedelta(3), 10))
    client = globex.client(globex.admin)
    everything = ",".join(TicketStatus.values)
    for query in (
        "sla_result=first_response:met&sla_after=2026-03-01&sla_before=2026-04-01",
        "reopened_after=2026-03-01&reopened_before=2026-04-01",
        "untagged=1&created_after=2026-03-01&created_before=2026-04-01",
        "open_at=2026-03-20",
        "created_weekday=2&created_after=2026-03-01&created_before=2026-04-01",
    ):
        html = client.get(f"/inbox/?status={everything}&{query}").content.decode()
        listed = html.count('class="ticket-row')
        assert listed == (1 if "Globex own" in html else 0), query
        assert "Ticket 1<" not in html, query
    html = client.get(f"/inbox/?status={everything}&open_at=2026-03-20").content.decode()
    assert "Globex own" in html
