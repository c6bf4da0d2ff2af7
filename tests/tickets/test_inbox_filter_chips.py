"""The inbox's active filters as readable, removable chips: a label for every filter the
inbox accepts, names not ids (in one query, within the tenant), dates in the agent's
zone, always escaped, and each chip's link the same inbox without it."""

from __future__ import annotations

import html as html_lib
import re
import zoneinfo
from urllib.parse import parse_qs, urlsplit

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from departments.models import Department
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import Tenant
from tests.conftest import TenantSetup
from tests.factories.tickets import make_contact, make_ticket
from tickets.inbox import labels
from tickets.inbox import services as inbox
from tickets.models import Company, CustomStatus, Tag, TicketStatus, TicketTag, TicketType

CHIP = r'<a class="chip" href="([^"]*)"[^>]*>(.*?) <span aria-hidden="true">'


def _sample(setup: TenantSetup) -> dict[str, str]:
    """A value for every filter the inbox accepts (a new filter fails the tests below until
    it has a sample here and a label in tickets.inbox.labels)."""
    company = Company.objects.create(name="Initech")
    contact = make_contact(email="peter@initech.test", company=company)
    return {
        "status": "open,waiting,on_hold",
        "assignee": str(setup.admin.id),
        "department": str(setup.department.id),
        "tag": "Billing",
        "priority": "high,urgent",
        "type": str(TicketType.objects.create(name="Refund").id),
        "mailbox": str(setup.mailbox.id),
        "custom_status": str(
            CustomStatus.objects.create(name="Waiting on parts", base_status="on_hold").id
        ),
        "channel": "email",
        "contact": str(contact.id),
        "company": str(company.id),
        "created_after": "2026-03-01",
        "created_before": "2026-04-01",
        "updated_after": "2026-03-01T10:30:00+00:00",
        "updated_before": "2026-03-02T10:30:00+00:00",
        "solved_after": "2026-03-01",
        "solved_before": "2026-03-02",
        "reopened_after": "2026-02-28T23:00:00+00:00",  # 1 March in Berlin
        "reopened_before": "2026-03-31T22:00:00+00:00",  # 1 April in Berlin (summer time)
        "sla_result": "first_response:missed",
        "sla_after": "2026-03-01",
        "sla_before": "2026-03-08",
        "open_at": "2026-03-31T21:59:59+00:00",
        "created_weekday": "0",
        "created_hour": "9",
        "untagged": "1",
        "due": "overdue",
        "sla": "breached",
        "spam": "1",
        "q": "refund",
    }


def test_every_filter_key_has_a_label() -> None:
    """Each key of FILTER_KEYS is labelled, alone or as part of a group that is."""
    grouped_followers = {key for group in labels.GROUPS for key in group[1:]}
    assert set(inbox.FILTER_KEYS) - set(labels.LABELS) - grouped_followers == set()
    assert {key for group in labels.GROUPS for key in group} <= set(inbox.FILTER_KEYS)
    assert set(labels.NAMED_BY_ID) <= set(inbox.FILTER_KEYS)


def test_labels_of_every_filter_in_the_agents_zone(acme: TenantSetup) -> None:
    with tenant_context(acme.id), timezone.override(zoneinfo.ZoneInfo("Europe/Berlin")):
        params = _sample(acme)
        assert set(params) == set(inbox.FILTER_KEYS)
        inbox.parse_filters(params, reader=acme.admin)  # every sample is a valid filter
        with CaptureQueriesContext(connection) as queries:
            chips = labels.filter_chips(
                {**params, "page": "3", "sort": "-created"},
                agents=[acme.admin],
                reader=acme.admin,
            )
    assert len(queries) == 1  # every name in one query
    by_label = {chip.label: chip for chip in chips}
    for expected in (
        "Status: Unsolved",
        "Assigned to me",
        f"Department: {acme.department.name}",
        "Tag: billing",
        "Priority: High, Urgent",
        "Type: Refund",
        f"Mailbox: {acme.mailbox.address}",
        "Status: Waiting on parts",
        "Channel: Email",
        "Customer: peter@initech.test",
        "Company: Initech",
        "Created 1 Mar 2026 01:00 \u2013 1 Apr 2026 02:00",  # a date is midnight UTC
        "Updated 1 Mar 2026 11:30 \u2013 2 Mar 2026 11:30",
        "Solved 1 Mar 2026 01:00 \u2013 2 Mar 2026 01:00",  # UTC midnights, Berlin times
        "Reopened 1 Mar \u2013 31 Mar 2026",
        "First response SLA missed 1 Mar 2026 01:00 \u2013 8 Mar 2026 01:00",
        "Unsolved at 31 Mar 2026 23:59",
        "Created on Mondays, 09:00\u201310:00",
        "No tags",
        "Overdue",
        "Spam",
        "Search: \u201crefund\u201d",
    ):
        assert expected in by_label, (expected, sorted(by_label))
    assert any(label.startswith("SLA: ") for label in by_label)
    # Every key is in exactly one chip; each chip's link drops its keys and the page only.
    assert sorted(key for chip in chips for key in chip.keys if key in params) == sorted(params)
    reopened = parse_qs(by_label["Reopened 1 Mar \u2013 31 Mar 2026"].remove_query)
    assert "reopened_after" not in reopened
    assert "reopened_before" not in reopened
    assert "page" not in reopened
    assert reopened["sort"] == ["-created"]
    assert reopened["department"] == [str(acme.department.id)]
    assert labels.clear_query({**params, "sort": "-created", "view": "open"}) == (
        "sort=-created&view=open"
    )


def test_single_bounds_and_none_values() -> None:
    with timezone.override(zoneinfo.ZoneInfo("UTC")):
        assert labels.label_for("created_after", {"created_before": "2026-03-05"}) == (
            "Created before 5 Mar 2026"
        )
        assert labels.label_for("solved_after", {"solved_after": "2026-03-05"}) == (
            "Solved from 5 Mar 2026"
        )
        assert labels.label_for("created_after", {
            "created_after": "2026-03-05", "created_before": "2026-03-06"
        }) == "Created 5 Mar 2026"  # fmt: skip
        assert labels.label_for("created_after", {
            "created_after": "2025-12-01", "created_before": "2026-01-02"
        }) == "Created 1 Dec 2025 \u2013 1 Jan 2026"  # fmt: skip
        assert labels.label_for("created_weekday", {"created_hour": "23"}) == (
            "Created 23:00\u201300:00"
        )
    every = ",".join(TicketStatus.values)
    assert labels.label_for("status", {"status": every}) == "Any status"
    assert labels.label_for("status", {"status": "solved,closed"}) == "Status: Solved, Closed"
    assert labels.label_for("company", {"company": "none"}) == "No company"
    assert labels.label_for("assignee", {"assignee": "none"}) == "Unassigned"
    assert labels.label_for("cf_plan", {"cf_plan": "Gold"}) == "plan: Gold"
    named = {("plan", ""): "Support plan"}
    assert labels.label_for("cf_plan", {"cf_plan": "Gold"}, names=named) == "Support plan: Gold"


def _chips(body: str) -> dict[str, dict[str, list[str]]]:
    return {
        html_lib.unescape(label): parse_qs(urlsplit(html_lib.unescape(href)).query)
        for href, label in re.findall(CHIP, body)
    }


def test_inbox_shows_the_chips_with_their_removal_links(acme: TenantSetup) -> None:
    Tenant.objects.filter(id=acme.id).update(time_zone="Europe/Berlin")
    with tenant_context(acme.id):
        tag = Tag.objects.create(name="<script>alert(1)</script>")
        tagged = make_ticket(subject="Tagged one")
        make_ticket(subject="Untagged one")
        TicketTag.objects.create(ticket=tagged, tag=tag)
    client = acme.client(acme.admin)
    query = (
        f"department={acme.department.id}&tag=%3Cscript%3Ealert(1)%3C%2Fscript%3E"
        "&reopened_after=2026-02-28T23:00:00%2B00:00&reopened_before=2026-03-31T22:00:00%2B00:00"
        "&sort=-created&page=1"
    )
    body = client.get(f"/inbox/?{query}").content.decode()
    chips = _chips(body)
    assert set(chips) == {
        f"Department: {acme.department.name}",
        "Tag: <script>alert(1)</script>",
        "Reopened 1 Mar \u2013 31 Mar 2026",
    }
    assert "<script>alert(1)</script>" not in body  # shown as text
    assert "Tag: &lt;script&gt;alert(1)&lt;/script&gt;" in body
    without_tag = chips["Tag: <script>alert(1)</script>"]
    assert "tag" not in without_tag
    assert "page" not in without_tag
    assert without_tag["department"] == [str(acme.department.id)]
    assert without_tag["reopened_after"] == ["2026-02-28T23:00:00+00:00"]
    assert without_tag["sort"] == ["-created"]
    assert "reopened_after" not in chips["Reopened 1 Mar \u2013 31 Mar 2026"]
    assert 'href="/inbox/?sort=-created">Clear filters</a>' in body
    # The tag chip alone, then removed: the list changes with it.
    tag_only = client.get("/inbox/?status=open&tag=%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    assert tag_only.content.decode().count('class="ticket-row') == 1
    link = _chips(tag_only.content.decode())["Tag: <script>alert(1)</script>"]
    assert link == {"status": ["open"]}
    assert client.get("/inbox/?status=open").content.decode().count('class="ticket-row') == 2


def test_a_plain_view_has_no_chips(acme: TenantSetup) -> None:
    body = acme.client(acme.admin).get("/inbox/?view=open").content.decode()
    assert 'id="filter-chips"' not in body


def test_a_malformed_filter_is_refused_without_chips(acme: TenantSetup) -> None:
    response = acme.client(acme.admin).get("/inbox/?created_hour=99")
    assert response.status_code == 400
    body = response.content.decode()
    assert "created_hour is a number from 0 to 23." in body
    assert 'id="filter-chips"' not in body


def test_another_tenants_department_name_is_not_shown(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    with tenant_context(globex.id):
        secret = Department.objects.create(name="Globex Secret Projects")
    body = acme.client(acme.admin).get(f"/inbox/?department={secret.id}").content.decode()
    assert "Globex Secret Projects" not in body
    assert "Department: unknown" in _chips(body)


def test_names_cost_the_same_queries_for_one_chip_or_many(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        company = Company.objects.create(name="Initech")
        contact = make_contact(email="peter@initech.test", company=company)
        kind = TicketType.objects.create(name="Refund")
    client = acme.client(acme.admin)
    one = f"/inbox/?department={acme.department.id}"
    many = (
        f"{one}&type={kind.id}&mailbox={acme.mailbox.id}&company={company.id}"
        f"&contact={contact.id}&assignee={acme.admin.id}"
    )
    client.get(many)  # caches warm
    counts = []
    for url in (one, many):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
