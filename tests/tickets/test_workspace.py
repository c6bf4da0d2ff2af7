"""The agent workspace: open it and you own it, unread markers, inbox filters, sorts and
saved views, bulk actions, custom statuses and fields on tickets, the stale-reply guard,
presence, in-app notifications, merge and split — through services, pages and the API."""

from __future__ import annotations

import datetime
import re
import time
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from pytest_django import DjangoCaptureOnCommitCallbacks

from departments import services as department_services
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import MembershipRole
from tests.conftest import TenantSetup
from tests.factories.accounts import make_member
from tests.factories.tickets import make_contact, make_ticket
from tests.tickets.test_inbound import build, deliver
from tickets.configuration import services as configuration
from tickets.errors import (
    ConfigurationInvalid,
    InvalidFilter,
    MergeNotAllowed,
    ReplyNotAllowed,
    SavedViewNotYours,
    StaleReply,
)
from tickets.inbox import selectors as inbox_selectors
from tickets.inbox import services as inbox
from tickets.mail_out import tracking
from tickets.models import (
    Company,
    Message,
    MessageKind,
    Notification,
    Ticket,
    TicketFieldValue,
    TicketFollower,
    TicketSearch,
    TicketStatus,
)
from tickets.notifications import services as notifications
from tickets.ticket import merging, presence, selectors, services

if TYPE_CHECKING:
    from tests.conftest import ClientResponse


def _subjects(response: ClientResponse) -> list[str]:
    return [t["subject"] for t in response.json()["results"]]


# --- Open it and you own it ------------------------------------------------------------


def test_opening_an_unassigned_ticket_assigns_it_and_records_it(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        configuration.update_settings(auto_assign_on_open=True)  # the tenant's explicit choice
        agent = make_member(acme.tenant, name="Ana Agent")
        ticket = make_ticket(subject="Printer jam")
    response = acme.client(agent).get(f"/tickets/{ticket.number}/")
    assert response.status_code == 200
    assert b"it is yours now" in response.content
    assert b"took the ticket by opening it" in response.content
    with tenant_context(acme.id):
        ticket.refresh_from_db()
        assert ticket.assignee_id == agent.id
        event = Message.objects.get(ticket=ticket, kind=MessageKind.EVENT, event__field="assignee")
        assert event.event["via"] == "opened"
        assert event.author_member_id == agent.id
        # Opening it again (or by someone else) changes nothing.
        other = make_member(acme.tenant)
    acme.client(other).get(f"/tickets/{ticket.number}/")
    with tenant_context(acme.id):
        ticket.refresh_from_db()
        assert ticket.assignee_id == agent.id


def test_open_it_and_own_it_can_be_switched_off_and_skips_light_agents(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        configuration.update_settings(auto_assign_on_open=True)
        light = make_member(acme.tenant, role=MembershipRole.LIGHT_AGENT)
        ticket = make_ticket()
    acme.client(light).get(f"/tickets/{ticket.number}/")
    with tenant_context(acme.id):
        ticket.refresh_from_db()
        assert ticket.assignee_id is None
        configuration.update_settings(auto_assign_on_open=False)
    acme.client(acme.admin).get(f"/tickets/{ticket.number}/")
    with tenant_context(acme.id):
        ticket.refresh_from_db()
        assert ticket.assignee_id is None


def test_open_api_takes_the_ticket(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        configuration.update_settings(auto_assign_on_open=True)
        ticket = make_ticket()
    body = acme.api_client().post(f"/api/v1/tickets/{ticket.number}/open/").json()
    assert body["assigned"] is True
    assert body["ticket"]["assignee"]["id"] == str(acme.admin.id)


# --- Inbox -----------------------------------------------------------------------------


def test_unread_marker_clears_on_open_and_returns_with_a_customer_reply(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        ticket = make_ticket(subject="Where is my order")
        services.assign_ticket(ticket=ticket, assignee=acme.admin, actor=acme.admin)
    client = acme.client(acme.admin)
    assert b"ticket-row unread" in client.get("/inbox/?view=all").content
    client.get(f"/tickets/{ticket.number}/")
    page = client.get("/inbox/?view=mine").content
    assert b"Where is my order" in page
    assert b"ticket-row unread" not in page
    with tenant_context(acme.id):
        services.add_customer_message(ticket=ticket, contact=ticket.contact, body="Any news?")
    page = client.get("/inbox/?view=mine").content
    assert b"ticket-row unread" in page
    assert b"Any news?" in page  # the snippet of the last message


def test_inbox_filters_sorts_and_reports_bad_filters(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        bug = configuration.save_ticket_type(name="Bug")
        configuration.save_custom_field(
            target="ticket", label="Product", type="select", options=["Pro", "Lite"]
        )
        low = make_ticket(subject="Low one", priority="low")
        urgent = make_ticket(subject="Urgent one", priority="urgent", tags=["billing"])
        services.update_ticket(
            ticket=urgent,
            actor=acme.admin,
            type=bug,
            custom_fields={"product": "Pro"},
            due_at=timezone.now() - datetime.timedelta(hours=1),
        )
    client = acme.client(acme.admin)
    assert b"Urgent one" in client.get("/inbox/?priority=urgent").content
    assert b"Low one" not in client.get("/inbox/?priority=urgent").content
    assert b"Low one" not in client.get(f"/inbox/?type={bug.id}").content
    assert b"Urgent one" in client.get("/inbox/?cf_product=Pro").content
    assert b"Low one" not in client.get("/inbox/?due=overdue").content
    assert b"Urgent one" in client.get("/inbox/?tag=billing").content
    nav = client.get("/inbox/").content.decode()
    assert "?status=open,waiting,on_hold&amp;tag=billing" in nav  # the per-tag view
    tagged = client.get("/inbox/?status=open,waiting,on_hold&tag=billing").content
    assert b"Urgent one" in tagged
    assert b"Low one" not in tagged
    page = client.get("/inbox/?view=open&sort=-priority").content.decode()
    assert page.index("Urgent one") < page.index("Low one")
    page = client.get("/inbox/?view=open&sort=created").content.decode()
    assert page.index("Low one") < page.index("Urgent one")
    bad = client.get("/inbox/?priority=extreme")
    assert bad.status_code == 400
    assert b"priority" in bad.content
    api = acme.api_client()
    assert _subjects(api.get("/api/v1/tickets/?sort=-priority")) == ["Urgent one", "Low one"]
    assert _subjects(api.get("/api/v1/tickets/?cf_product=Lite")) == []
    assert api.get("/api/v1/tickets/?cf_nope=1").status_code == 400
    assert low.number < urgent.number


def test_the_filter_form_with_every_filter_on_any_lists_every_ticket(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        make_ticket(subject="Still open")
        solved = make_ticket(subject="Already solved")
        services.change_status(ticket=solved, status="solved", actor=None)
    client = acme.client(acme.admin)
    assert b"Already solved" not in client.get("/inbox/").content  # the default: open
    page = client.get("/inbox/?status=&priority=&assignee=&sort=-updated").content.decode()
    assert "Already solved" in page
    assert "Still open" in page
    assert '<option value="open" selected>' not in page  # the control stays on Any


def test_custom_field_filters_use_value_rows_that_follow_every_change(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    """Each value is a TicketFieldValue row, kept in step with Ticket.custom_fields: filters
    by text, number, date and checkbox match the JSON's own equality (1 is not "1"), a
    change or a cleared value moves the ticket out, and another tenant's rows never match.
    As the app's role, the filter is `=` on the rows' index (a jsonb `@>` on the ticket
    cannot use one under row-level security)."""
    with tenant_context(globex.id):
        configuration.save_custom_field(target="ticket", label="Order", type="text")
        theirs = make_ticket(subject="Their order")
        services.update_ticket(ticket=theirs, actor=globex.admin, custom_fields={"order": "A-1"})
    with tenant_context(acme.id):
        for label, kind in (("Order", "text"), ("Seats", "number"), ("Renewal", "date")):
            configuration.save_custom_field(target="ticket", label=label, type=kind)
        configuration.save_custom_field(target="ticket", label="VIP", type="checkbox")
        first = make_ticket(subject="First")
        second = make_ticket(subject="Second")
        make_ticket(subject="No fields")
        services.update_ticket(
            ticket=first,
            actor=acme.admin,
            custom_fields={"order": "A-1", "seats": "12", "renewal": "2027-01-31", "vip": "on"},
        )
        services.update_ticket(
            ticket=second, actor=acme.admin, custom_fields={"order": "12", "seats": "12.0"}
        )

        def matching(**fields: str) -> list[str]:
            params = {f"cf_{key}": value for key, value in fields.items()}
            found = inbox_selectors.list_tickets(inbox.parse_filters(params, reader=acme.admin))
            return sorted(t.subject for t in found)

        assert matching(order="A-1") == ["First"]
        assert matching(seats="12") == ["First", "Second"]  # 12.0 is stored as 12
        assert matching(order="12") == ["Second"]  # text "12", not the number
        assert matching(order="A-1", vip="yes", renewal="2027-01-31") == ["First"]
        assert matching(order="A-1", seats="13") == []
        services.update_ticket(
            ticket=first, actor=acme.admin, custom_fields={"order": "A-2", "renewal": ""}
        )
        assert matching(order="A-1") == []
        assert matching(order="A-2") == ["First"]
        assert matching(renewal="2027-01-31") == []
        assert TicketFieldValue.objects.filter(ticket=first).count() == 3  # order, seats, vip
        # Rows out of step (older code wrote the ticket) are put right by the next save,
        # even one that changes nothing.
        TicketFieldValue.objects.filter(ticket=first).delete()
        services.update_ticket(ticket=first, actor=acme.admin, custom_fields={"order": "A-2"})
        assert matching(order="A-2", seats="12") == ["First"]

        TicketFieldValue.objects.bulk_create(  # enough rows for the planner to pick an index
            TicketFieldValue(tenant_id=acme.id, ticket=second, key=f"k{n}", digest="0" * 64)
            for n in range(2000)
        )
        filters = inbox.parse_filters({"cf_order": "A-2"}, reader=acme.admin)
        sql, params = inbox_selectors.list_tickets(filters).query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN {sql}", params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
    # `=` on key and digest reaches the rows' indexes through the policy (a jsonb `@>` on
    # the ticket never did): an index condition, not a filter on a scan of the tenant.
    assert re.search(r"Index Scan.* on tickets_ticketfieldvalue", plan)
    assert re.search(r"Index Cond: .*\(key\)::text = 'order'", plan)
    assert "custom_fields" not in plan


def test_filter_form_keeps_every_filter_and_search_stays_in_the_view(acme: TenantSetup) -> None:
    """Apply and Search submit what the page shows: custom fields have controls, filters
    without one (customer, channel) ride along hidden, and a search stays within the view
    (with a link to search everything)."""
    with tenant_context(acme.id):
        configuration.save_custom_field(
            target="ticket", label="Product", type="select", options=["Pro", "Lite"]
        )
        configuration.save_custom_field(target="ticket", label="VIP", type="checkbox")
        solved = make_ticket(subject="Printer solved")
        services.change_status(ticket=solved, status="solved", actor=None)
        make_ticket(subject="Printer open")
        contact_id = solved.contact_id
    client = acme.client(acme.admin)
    page = client.get(f"/inbox/?status=solved&cf_product=Pro&contact={contact_id}").content.decode()
    form = page[
        page.index('id="filter-form"') : page.index("</form>", page.index('id="filter-form"'))
    ]
    assert '<option value="Pro" selected>Pro</option>' in form
    assert 'name="cf_vip"' in form  # a control for each field: Any, Yes, No
    assert f'<input type="hidden" name="contact" value="{contact_id}">' in form
    search = page[page.index('role="search"') : page.index("</form>", page.index('role="search"'))]
    for hidden in ('name="status" value="solved"', 'name="cf_product" value="Pro"'):
        assert hidden in search
    # Searching from the Solved view finds the solved ticket only, and offers all tickets.
    found = client.get("/inbox/?q=printer&status=solved").content.decode()
    assert "Printer solved" in found
    assert "Printer open" not in found
    assert 'href="?q=printer">Search all tickets</a>' in found
    everywhere = client.get("/inbox/?q=printer").content.decode()
    assert "Printer solved" in everywhere
    assert "Printer open" in everywhere
    # A blank field control means any value, not "No".
    assert "Printer open" in client.get("/inbox/?status=open&cf_vip=").content.decode()


def test_jumping_to_a_ticket_number_that_does_not_exist_says_so(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        ticket = make_ticket()
    client = acme.client(acme.admin)
    assert client.get(f"/inbox/?q=%23{ticket.number}")["Location"] == f"/tickets/{ticket.number}/"
    missing = client.get("/inbox/?q=%23999")
    assert missing.status_code == 400
    assert "There is no ticket #999." in missing.content.decode()
    # A superscript is a digit to Python but no number: searched for as text.
    assert client.get("/inbox/?q=%23%C2%B2").status_code == 200


def test_light_agents_see_the_ticket_fields_read_only(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        light = make_member(acme.tenant, role=MembershipRole.LIGHT_AGENT)
        ticket = make_ticket()
    page = acme.client(light).get(f"/tickets/{ticket.number}/").content.decode()
    assert '<fieldset class="plain" disabled>' in page
    assert 'id="reply-status"' not in page  # notes do not set a status
    assert ">Save</button>" not in page
    agent_page = acme.client(acme.admin).get(f"/tickets/{ticket.number}/").content.decode()
    assert '<fieldset class="plain">' in agent_page
    assert 'id="reply-status"' in agent_page


def test_filters_parse_and_refuse(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        filters = inbox.parse_filters(
            {"status": "open,waiting", "assignee": "me", "created_after": "2026-01-02"},
            reader=acme.admin,
        )
        assert filters.statuses == ("open", "waiting")
        assert filters.assignee_id == acme.admin.id
        assert filters.created_after == datetime.datetime(2026, 1, 2, tzinfo=datetime.UTC)
        for bad in ({"status": "gone"}, {"department": "x"}, {"due": "later"}, {"type": "1"}):
            with pytest.raises(InvalidFilter):
                inbox.parse_filters(bad, reader=acme.admin)


def test_saved_views_personal_and_shared(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        ana = make_member(acme.tenant, name="Ana")
        ben = make_member(acme.tenant, name="Ben")
        make_ticket(subject="Urgent billing", priority="urgent")
        make_ticket(subject="Calm question")
    client = acme.client(ana)
    response = client.post(
        "/inbox/views/", {"name": "Urgent", "priority": "urgent", "sort": "-priority"}
    )
    assert response.status_code == 302
    page = client.get(response["Location"]).content
    assert b"Urgent billing" in page
    assert b"Calm question" not in page
    client.post("/inbox/views/", {"name": "Team urgent", "priority": "urgent", "is_shared": "on"})
    with tenant_context(acme.id):
        seen_by_ben = [v.name for v in inbox.list_saved_views(ben)]
        assert seen_by_ben == ["Team urgent"]
        shared = inbox.list_saved_views(ben).get()
        with pytest.raises(SavedViewNotYours):
            inbox.delete_view(view=shared, actor=ben)
        with pytest.raises(InvalidFilter):
            inbox.save_view(owner=ana, name="Broken", filters={"status": "nope"})
    api = acme.api_client(ben)
    assert [v["name"] for v in api.get("/api/v1/saved-views/").json()] == ["Team urgent"]
    created = api.post(
        "/api/v1/saved-views/",
        {"name": "Mine overdue", "filters": {"assignee": "me", "due": "overdue"}},
        content_type="application/json",
    )
    assert created.status_code == 201
    bad = api.post(
        "/api/v1/saved-views/",
        {"name": "x", "filters": {"due": "soon"}},
        content_type="application/json",
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid_filter"


def test_bulk_actions_apply_per_ticket(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        agent = make_member(acme.tenant)
        first = make_ticket(subject="One")
        second = make_ticket(subject="Two")
        closed = make_ticket(subject="Three")
        services.change_status(ticket=closed, status="closed", actor=None)
    client = acme.client(acme.admin)
    numbers = [first.number, second.number, closed.number]
    client.post(
        "/inbox/bulk/",
        {"tickets": numbers, "action": "assign", "value": str(agent.id), "next": "/inbox/"},
    )
    with tenant_context(acme.id):
        assigned = set(Ticket.objects.filter(assignee=agent).values_list("number", flat=True))
        assert assigned == {first.number, second.number}  # the closed one refused
    response = client.post(
        "/inbox/bulk/",
        {"tickets": numbers, "action": "tag", "value": "VIP", "next": "/inbox/"},
        follow=True,
    )
    assert f"#{closed.number}: ".encode() in response.content
    api = acme.api_client()
    result = api.post(
        "/api/v1/tickets/bulk/",
        {"tickets": [first.number, 9999], "action": "spam"},
        content_type="application/json",
    ).json()
    assert result["done"] == [first.number]
    assert result["failed"] == [{"ticket": 9999, "message": "No such ticket."}]
    assert "One" not in _subjects(api.get("/api/v1/tickets/?view=open"))
    assert _subjects(api.get("/api/v1/tickets/?view=spam")) == ["One"]
    with tenant_context(acme.id):
        assert [t.name for t in second.tags.all()] == ["vip"]


def test_light_agents_cannot_bulk_change(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        light = make_member(acme.tenant, role=MembershipRole.LIGHT_AGENT)
        ticket = make_ticket()
        with pytest.raises(ReplyNotAllowed):
            inbox.bulk_update(numbers=[ticket.number], action="status", value="solved", actor=light)
    api = acme.api_client(light)
    refused = api.post(
        "/api/v1/tickets/bulk/",
        {"tickets": [ticket.number], "action": "status", "value": "solved"},
        content_type="application/json",
    )
    assert refused.status_code == 403
    unknown = acme.api_client().post(
        "/api/v1/tickets/bulk/",
        {"tickets": [ticket.number], "action": "status", "value": "bogus"},
        content_type="application/json",
    )
    assert unknown.status_code == 400
    assert unknown.json()["error"]["message"].startswith("status is one of open, waiting")


# --- Ticket fields ---------------------------------------------------------------------


def test_custom_status_sets_its_base_status_and_is_cleared_by_a_reopen(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        engineering = configuration.save_custom_status(
            name="Waiting on engineering", base_status="on_hold"
        )
        ticket = make_ticket()
        services.update_ticket(ticket=ticket, actor=acme.admin, custom_status=engineering)
        ticket.refresh_from_db()
        assert (ticket.status, ticket.custom_status_id) == ("on_hold", engineering.id)
        services.add_customer_message(ticket=ticket, contact=ticket.contact, body="Update?")
        ticket.refresh_from_db()
        assert (ticket.status, ticket.custom_status_id) == ("open", None)
        fields = [m.event["field"] for m in Message.objects.filter(ticket=ticket, kind="event")]
        assert fields.count("custom_status") == 2


@pytest.mark.parametrize("typed", ["0001-01-01 00:00", "9999-12-31 23:59", "1899-12-31 23:59"])
def test_a_due_date_out_of_range_is_refused_and_the_inbox_still_opens(
    acme: TenantSetup, typed: str
) -> None:
    """Year 1 typed in Tokyo was stored BC (psycopg cannot read it back: every inbox
    listing the ticket failed); 9999 overflowed when shown east of UTC."""
    acme.tenant.time_zone = "Asia/Tokyo"
    acme.tenant.save(update_fields=["time_zone"])
    with tenant_context(acme.id):
        ticket = make_ticket()
    client = acme.client(acme.admin)
    response = client.post(
        f"/tickets/{ticket.number}/update/",
        {
            "status": "open",
            "priority": "normal",
            "department": str(acme.department.id),
            "due_at": typed,
        },
    )
    assert response.status_code == 400
    assert "between the years 1900 and 2999" in response.content.decode()
    with tenant_context(acme.id):
        ticket.refresh_from_db()
        assert ticket.due_at is None
    assert client.get("/inbox/?view=all").status_code == 200
    api = acme.api_client()
    patched = api.patch(
        f"/api/v1/tickets/{ticket.number}/",
        {"due_at": "9999-12-31T23:59:00Z"},
        content_type="application/json",
    )
    assert patched.status_code == 400
    assert patched.json()["error"]["code"] == "date_out_of_range"


@pytest.mark.parametrize(
    "query",
    [
        "created_after=0001-01-01T00:00:00%2B14:00",
        "created_before=9999-12-31T23:59:59-12:00",
        "solved_after=1899-12-31",
    ],
)
def test_inbox_filters_out_of_range_are_a_400(acme: TenantSetup, query: str) -> None:
    page = acme.client(acme.admin).get(f"/inbox/?{query}")
    assert page.status_code == 400
    assert "between the years 1900 and 2999" in page.content.decode()
    listed = acme.api_client().get(f"/api/v1/tickets/?{query}")
    assert listed.status_code == 400
    assert listed.json()["error"]["code"] == "invalid_filter"


def test_sidebar_saves_every_field_and_history_shows_it(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        question = configuration.save_ticket_type(name="Question")
        configuration.save_custom_field(target="ticket", label="Order number", type="number")
        ticket = make_ticket()
    client = acme.client(acme.admin)
    response = client.post(
        f"/tickets/{ticket.number}/update/",
        {
            "status": "waiting",
            "priority": "high",
            "department": str(acme.department.id),
            "assignee": str(acme.admin.id),
            "type": str(question.id),
            "due_at": "2030-01-02T10:00",
            "tags": "vip, billing",
            "cf_order_number": "1234",
        },
        follow=True,
    )
    assert b"Ticket updated." in response.content
    with tenant_context(acme.id):
        ticket.refresh_from_db()
        assert (ticket.status, ticket.priority, ticket.type_id) == ("waiting", "high", question.id)
        assert ticket.custom_fields == {"order_number": 1234}
        assert ticket.due_at is not None
        assert ticket.due_at.year == 2030
    page = response.content.decode()
    assert "order number" in page
    assert "1234" in page
    assert "Question" in page
    bad = client.post(
        f"/tickets/{ticket.number}/update/",
        {
            "status": "waiting",
            "priority": "high",
            "department": str(acme.department.id),
            "cf_order_number": "many",
        },
        follow=True,
    )
    assert b"Order number takes a number." in bad.content


def test_a_refused_sidebar_save_keeps_the_choices_and_offers_reachable_statuses(
    acme: TenantSetup,
) -> None:
    with tenant_context(acme.id):
        configuration.save_custom_field(target="ticket", label="Order number", type="number")
        ticket = make_ticket(tags=["old"])
        services.change_status(ticket=ticket, status="solved", actor=None)
    client = acme.client(acme.admin)
    page = client.get(f"/tickets/{ticket.number}/").content.decode()
    status_select = page[
        page.index('id="f-status"') : page.index("</select>", page.index('id="f-status"'))
    ]
    offered = re.findall(r'<option value="(\w+)"', status_select)
    assert offered == ["open", "solved", "closed"]  # solved moves to open or closed only
    refused = client.post(
        f"/tickets/{ticket.number}/update/",
        {
            "status": "on_hold",
            "priority": "urgent",
            "department": str(acme.department.id),
            "tags": "vip, billing",
            "cf_order_number": "42",
        },
    )
    assert refused.status_code == 400
    html = refused.content.decode()
    assert "Not saved:" in html
    assert '<option value="urgent" selected>' in html
    assert 'name="tags" value="vip, billing"' in html
    assert 'name="cf_order_number" value="42"' in html
    with tenant_context(acme.id):
        ticket.refresh_from_db()
        assert (ticket.status, ticket.priority, ticket.custom_fields) == ("solved", "normal", {})


def test_sidebar_sends_only_what_this_agent_changed(acme: TenantSetup) -> None:
    """Ana and Ben have the ticket open; Ben saves priority and department; Ana, from the
    sidebar as she first saw it, changes only the type: Ben's changes stay."""
    with tenant_context(acme.id):
        billing = department_services.create_department(name="Billing")
        incident = configuration.save_ticket_type(name="Incident")
        ticket = make_ticket(priority="high")
    shown = {
        "status": "open",
        "priority": "high",
        "department": str(acme.department.id),
        "assignee": "",
        "type": "",
        "due_at": "",
        "tags": "",
    }
    with tenant_context(acme.id):  # Ben's save
        services.update_ticket(ticket=ticket, actor=acme.admin, priority="low", department=billing)
    response = acme.client(acme.admin).post(
        f"/tickets/{ticket.number}/update/",
        {**shown, "type": str(incident.id), "original": urlencode(shown)},
    )
    assert response.status_code == 302
    with tenant_context(acme.id):
        ticket.refresh_from_db()
        assert (ticket.priority, ticket.department_id, ticket.type_id) == (
            "low",
            billing.id,
            incident.id,
        )


def test_a_required_field_is_needed_to_solve_and_blocks_nothing_else(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        configuration.save_custom_field(
            target="ticket", label="Seats", type="number", is_required=True
        )
        ticket = make_ticket()
    shown = {
        "status": "open",
        "priority": "normal",
        "department": str(acme.department.id),
        "tags": "",
        "cf_seats": "",
    }
    client = acme.client(acme.admin)
    edit = {**shown, "priority": "high", "original": urlencode(shown)}
    assert client.post(f"/tickets/{ticket.number}/update/", edit).status_code == 302
    api = acme.api_client()
    refused = api.patch(
        f"/api/v1/tickets/{ticket.number}/", {"status": "solved"}, content_type="application/json"
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["message"] == "Fill in Seats before solving the ticket."
    bulk = client.post(
        "/inbox/bulk/", {"tickets": [ticket.number], "action": "status", "value": "solved"}
    )
    assert bulk.status_code in (200, 302)
    with tenant_context(acme.id):
        ticket.refresh_from_db()
        assert (ticket.status, ticket.priority) == ("open", "high")
    shown["priority"] = "high"
    solve = {**shown, "status": "solved", "cf_seats": "12", "original": urlencode(shown)}
    assert client.post(f"/tickets/{ticket.number}/update/", solve).status_code == 302
    with tenant_context(acme.id):
        ticket.refresh_from_db()
        assert (ticket.status, ticket.custom_fields) == ("solved", {"seats": 12})


def test_priority_outside_the_tenants_levels_is_refused(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        configuration.update_settings(
            priorities=[
                {"value": "low", "label": "Low"},
                {"value": "normal", "label": "Normal"},
                {"value": "critical", "label": "P1"},
            ]
        )
        ticket = make_ticket()
        services.update_ticket(ticket=ticket, actor=acme.admin, priority="critical")
        with pytest.raises(ConfigurationInvalid):
            services.update_ticket(ticket=ticket, actor=acme.admin, priority="urgent")
    page = acme.client(acme.admin).get(f"/tickets/{ticket.number}/").content.decode()
    assert "P1" in page
    # The history names the levels as the tenant does, not by their internal values.
    assert re.search(r"Normal\s*(→|&rarr;)\s*P1", page), page[page.find("priority") - 200 :][:600]


# --- Collision detection -----------------------------------------------------------------


def test_a_reply_after_a_new_message_is_stopped_until_the_agent_has_seen_it(
    acme: TenantSetup,
) -> None:
    with tenant_context(acme.id):
        ana = make_member(acme.tenant, name="Ana")
        ticket = make_ticket(body="First question")
        seen = selectors.latest_message_id(ticket)
        services.add_message(ticket=ticket, kind="note", body="Own note", actor=ana)
        # Ana's own note does not make her reply stale.
        services.add_message(
            ticket=ticket, kind="reply", body="Hello", actor=ana, seen_up_to=seen, status="open"
        )
        seen = selectors.latest_message_id(ticket)
        services.add_customer_message(ticket=ticket, contact=ticket.contact, body="Never mind!")
        with pytest.raises(StaleReply) as stale:
            services.add_message(
                ticket=ticket, kind="reply", body="Fixed it", actor=ana, seen_up_to=seen
            )
        assert stale.value.details["count"] == 1
    client = acme.client(ana)
    response = client.post(
        f"/tickets/{ticket.number}/messages/",
        {"kind": "reply", "body": "Fixed it", "seen_up_to": str(seen)},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 409
    assert b"new while you were writing" in response.content
    assert b"Fixed it" in response.content  # the draft is kept
    latest = stale.value.details["latest"]
    assert f'name="seen_up_to" value="{latest}"'.encode() in response.content
    sent = client.post(
        f"/tickets/{ticket.number}/messages/",
        {"kind": "reply", "body": "Fixed it", "seen_up_to": latest},
        HTTP_HX_REQUEST="true",
    )
    assert sent.status_code == 200
    api = acme.api_client(ana)
    with tenant_context(acme.id):
        services.add_customer_message(ticket=ticket, contact=ticket.contact, body="One more")
    refused = api.post(
        f"/api/v1/tickets/{ticket.number}/messages/",
        {"kind": "reply", "body": "x", "seen_up_to": latest},
        content_type="application/json",
    )
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "stale_reply"
    assert refused.json()["error"]["details"]["count"] >= 1


def test_presence_shows_other_agents_and_forgets_them(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        ana = make_member(acme.tenant, name="Ana Lopez")
        ben = make_member(acme.tenant, name="Ben Otto")
        ticket = make_ticket()
    presence.touch(tenant_id=acme.id, ticket_id=ticket.id, member=ana, state="replying")
    others = presence.others_present(tenant_id=acme.id, ticket_id=ticket.id, member=ben)
    assert [(p.name, p.state) for p in others] == [("Ana Lopez", "replying")]
    later = time.time() + presence.PRESENCE_TTL + 1
    assert (
        presence.others_present(tenant_id=acme.id, ticket_id=ticket.id, member=ben, now=later) == []
    )
    response = acme.client(ben).post(f"/tickets/{ticket.number}/presence/", {"state": "viewing"})
    assert b"Ana Lopez is replying" in response.content
    # Opening the page is the first ping: it shows who is here and tells them at once.
    presence.leave(tenant_id=acme.id, ticket_id=ticket.id, member=ben)
    page = acme.client(ben).get(f"/tickets/{ticket.number}/").content.decode()
    shown = page.split('id="presence"', 1)[1].split("</div>", 1)[0]
    assert 'hx-trigger="every 2s, presence-change"' in shown
    assert "Ana Lopez is replying" in shown
    others = presence.others_present(tenant_id=acme.id, ticket_id=ticket.id, member=ana)
    assert [(p.name, p.state) for p in others] == [("Ben Otto", "viewing")]
    api = acme.api_client(ana)
    listed = api.get(f"/api/v1/tickets/{ticket.number}/presence/").json()
    assert [p["name"] for p in listed] == ["Ben Otto"]
    api.post(
        f"/api/v1/tickets/{ticket.number}/presence/",
        {"state": "left"},
        content_type="application/json",
    )
    assert presence.others_present(tenant_id=acme.id, ticket_id=ticket.id, member=ben) == []


# --- Notifications ---------------------------------------------------------------------


def test_a_mention_lands_in_the_app_notifications_and_opening_reads_it(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        ana = make_member(acme.tenant, name="Ana Lopez", email="ana@acme.test")
        ticket = make_ticket(subject="Refund")
        services.add_message(
            ticket=ticket, kind="note", body="@ana can you check?", actor=acme.admin
        )
        assert notifications.unread_count(ana) == 1
    client = acme.client(ana)
    assert b'aria-label="1 unread"' in client.get("/notifications/badge/").content
    # Every page draws the count with it; htmx only refreshes it (every 30 s).
    inbox = client.get("/inbox/").content.decode()
    badge = inbox.split('hx-get="/notifications/badge/"', 1)[1].split("</span></a></span>")[0]
    assert 'hx-trigger="every 30s"' in badge
    assert 'aria-label="1 unread">1' in badge
    page = client.get("/notifications/").content
    assert b"mentioned you on" in page
    assert b"Refund" in page
    client.get(f"/tickets/{ticket.number}/")
    with tenant_context(acme.id):
        assert notifications.unread_count(ana) == 0
        ticket.refresh_from_db()
        assert ticket.assignee_id is None  # viewing is not owning
        services.assign_ticket(ticket=ticket, assignee=ana, actor=ana)  # Take: no notification
        services.assign_ticket(ticket=ticket, assignee=acme.admin, actor=ana)
        services.assign_ticket(ticket=ticket, assignee=ana, actor=acme.admin)
    api = acme.api_client(ana)
    assert api.get("/api/v1/notifications/unread-count/").json() == {"unread": 1}
    listed = api.get("/api/v1/notifications/?unread=1").json()["results"]
    assert [n["kind"] for n in listed] == ["assigned"]
    listing = client.get("/notifications/").content.decode()
    assert f'href="/tickets/{ticket.number}/"' in listing  # an assignment has no message
    assert "#message-None" not in listing
    assert api.post("/api/v1/notifications/read/", {}, content_type="application/json").json() == {
        "unread": 0
    }
    with tenant_context(acme.id):
        assert Notification.objects.filter(member=ana).count() == 2
    preferences = client.get("/settings/preferences/").content.decode()
    assert 'id="notification-link">Notifications</a>' in preferences  # none unread: no count


# --- Merge and split -------------------------------------------------------------------


def test_merge_moves_everything_and_later_mail_lands_on_the_survivor(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        customer = make_contact(email="kim@example.test")
        survivor = make_ticket(subject="Login fails", contact=customer, tags=["auth"])
        duplicate = make_ticket(subject="Still cannot log in", contact=customer, tags=["vip"])
        cc = make_contact(email="boss@example.test")
        TicketFollower.objects.create(ticket=duplicate, contact=cc)
        duplicate_message = Message.objects.get(ticket=duplicate, kind="customer")
        duplicate_message.email_message_id = "<dup-1@example.test>"
        duplicate_message.save(update_fields=["email_message_id"])
    response = acme.client(acme.admin).post(
        f"/tickets/{duplicate.number}/merge/", {"into": str(survivor.number)}
    )
    assert response["Location"] == f"/tickets/{survivor.number}/"
    with tenant_context(acme.id):
        duplicate.refresh_from_db()
        assert duplicate.merged_into_id == survivor.id
        assert duplicate.status == "closed"
        bodies = list(
            Message.objects.filter(ticket=survivor, kind="customer").values_list(
                "body_text", flat=True
            )
        )
        assert len(bodies) == 2
        assert {t.name for t in survivor.tags.all()} == {"auth", "vip"}
        assert set(
            TicketFollower.objects.filter(ticket=survivor).values_list("contact__email", flat=True)
        ) == {"boss@example.test"}
        with pytest.raises(MergeNotAllowed):
            merging.merge_tickets(survivor=survivor, others=[duplicate], actor=acme.admin)
    # A reply to the merged ticket (by Message-ID or by its subject tag) goes to the survivor.
    to = acme.mailbox.address
    deliver(
        acme,
        build("Re: Still", "Thanks", "kim@example.test", to, In_Reply_To="<dup-1@example.test>"),
    )
    deliver(acme, build(f"Re: [#{duplicate.number}] Still", "Again", "kim@example.test", to))
    with tenant_context(acme.id):
        assert Message.objects.filter(ticket=survivor, kind="customer").count() == 4
        assert not Message.objects.filter(ticket=duplicate, kind="customer").exists()
    page = acme.client(acme.admin).get(f"/tickets/{duplicate.number}/")
    assert page["Location"] == f"/tickets/{survivor.number}/"
    history = acme.client(acme.admin).get(f"/tickets/{survivor.number}/").content.decode()
    assert f"merged #{duplicate.number} into this ticket" in history
    # The customer's tracking link of the merged request follows it to the survivor.
    tracked = acme.client().get(f"/track/{tracking.tracking_token(duplicate.id)}/", follow=True)
    assert f"Request #{survivor.number}" in tracked.content.decode()


def test_a_merged_tickets_acknowledgement_does_not_become_the_survivors_snippet(
    acme: TenantSetup,
) -> None:
    with tenant_context(acme.id):
        survivor = make_ticket(subject="Login fails", body="I cannot log in")
        duplicate = make_ticket(subject="Login again", body="Still locked out")
        Message.objects.create(
            ticket=duplicate,
            kind=MessageKind.REPLY,
            is_automatic=True,
            body_text=f"We opened request #{duplicate.number} for you.",
        )
        merging.merge_tickets(survivor=survivor, others=[duplicate], actor=acme.admin)
        survivor.refresh_from_db()
        assert survivor.last_message_snippet == "Still locked out"
    # The help desk itself is named as the author of its automatic mail.
    page = acme.client(acme.admin).get(f"/tickets/{survivor.number}/").content.decode()
    assert re.search(r"<strong>Acme</strong>\s*· Automatic reply", page)


def test_split_moves_one_message_into_a_new_ticket(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        ticket = make_ticket(subject="Two problems", body="Printer")
        second = services.add_customer_message(
            ticket=ticket, contact=ticket.contact, body="Also my invoice is wrong"
        )
        first = Message.objects.filter(ticket=ticket, kind="customer").order_by("created_at")[0]
    api = acme.api_client()
    created = api.post(f"/api/v1/tickets/{ticket.number}/messages/{second.id}/split/")
    assert created.status_code == 201
    new_number = created.json()["number"]
    with tenant_context(acme.id):
        new = Ticket.objects.get(number=new_number)
        assert list(Message.objects.filter(ticket=new, kind="customer")) == [second]
        assert new.contact_id == ticket.contact_id
        with pytest.raises(MergeNotAllowed):  # the only customer message left
            merging.split_message(message=first, actor=acme.admin)
    assert (
        api.post(f"/api/v1/tickets/{ticket.number}/messages/{second.id}/split/").status_code == 404
    )
    client = acme.client(acme.admin)
    assert f"split a message into #{new_number}" in client.get(f"/tickets/{ticket.number}/").text
    assert f"split this ticket from #{ticket.number}" in client.get(f"/tickets/{new_number}/").text


def test_workspace_is_tenant_scoped(acme: TenantSetup, globex: TenantSetup) -> None:
    with tenant_context(globex.id):
        theirs = make_ticket(subject="Globex secret")
    with tenant_context(acme.id):
        ours = make_ticket(subject="Acme ticket")
    client = acme.client(acme.admin)
    assert client.post(f"/tickets/{ours.number}/merge/", {"into": "999"}).status_code == 400
    itself = client.get(f"/tickets/{ours.number}/merge/?into={ours.number}")
    assert itself.status_code == 400
    assert "cannot be merged into itself" in itself.content.decode()
    assert f"Merge #{ours.number} into #{ours.number}" not in itself.content.decode()
    api = acme.api_client()
    merged = api.post(
        f"/api/v1/tickets/{ours.number}/merge/",
        {"into": theirs.number + 1000},
        content_type="application/json",
    )
    assert merged.status_code == 404
    assert b"Globex secret" not in client.get("/inbox/?view=all").content
    with tenant_context(acme.id):
        assert Ticket.objects.get(id=ours.id).status == TicketStatus.OPEN


def test_inbox_and_ticket_page_stay_within_their_query_budgets(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    # As if committed: the configuration is cached again once its writes are committed.
    with tenant_context(acme.id), django_capture_on_commit_callbacks(execute=True):
        configuration.save_ticket_type(name="Bug")
        configuration.save_custom_field(target="ticket", label="Plan", type="text")
    with tenant_context(acme.id):
        for index in range(5):
            ticket = make_ticket(subject=f"Ticket {index}", tags=["a", f"t{index}"])
            services.add_customer_message(ticket=ticket, contact=ticket.contact, body="More")
        services.assign_ticket(ticket=ticket, assignee=acme.admin, actor=None)
    client = acme.client(acme.admin)
    client.get("/inbox/")  # the configuration cache is warm after the first page
    # The test's own transaction adds a savepoint, its release and the tenant reset that a
    # production request (outermost transaction) does not make: those are not counted.
    test_only = ("SAVEPOINT", "RELEASE SAVEPOINT", "SELECT set_config('app.tenant_id', '',")
    # The ticket page draws its sidebar's SLA, integrations and tasks panels itself: six
    # queries more (timers, linked items, integrations, contact apps, tasks, hold; the
    # members list is the page's), where it made three requests of their own for them.
    budgets = {"/inbox/": 12, "/inbox/?view=mine&sort=-priority": 12}
    for url in (*budgets, f"/tickets/{ticket.number}/"):
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        counted = [q for q in captured.captured_queries if not q["sql"].startswith(test_only)]
        assert len(counted) <= budgets.get(url, 12 + 6), (url, [q["sql"][:80] for q in counted])


def test_inbox_rows_show_assignee_and_custom_status_without_a_query_each(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        parts = configuration.save_custom_status(name="Waiting for parts", base_status="on_hold")
        gone = make_member(acme.tenant, name="Former Agent")
        configuration.save_custom_status(
            name="Waiting for parts", base_status="on_hold", custom_status=parts, is_active=False
        )
        gone.is_active = False
        gone.save()
    client = acme.client(acme.admin)
    counts = []
    for rows in (1, 4):
        with tenant_context(acme.id):
            while Ticket.objects.filter(status="on_hold").count() < rows:
                ticket = make_ticket(subject="Row")
                services.update_ticket(ticket=ticket, actor=acme.admin, custom_status=parts)
                Ticket.objects.filter(id=ticket.id).update(assignee=gone)
        client.get("/inbox/?view=on_hold")
        with CaptureQueriesContext(connection) as captured:
            page = client.get("/inbox/?view=on_hold").content.decode()
        assert page.count("Former Agent") >= rows
        assert page.count("Waiting for parts") >= rows
        counts.append(len(captured.captured_queries))
    assert counts[0] == counts[1]  # one lookup each for the retired ones, not one per row


def test_light_agents_cannot_change_ticket_fields(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        light = make_member(acme.tenant, role=MembershipRole.LIGHT_AGENT)
        ticket = make_ticket()
    acme.client(light).post(
        f"/tickets/{ticket.number}/update/",
        {"status": "solved", "priority": "urgent", "department": str(acme.department.id)},
    )
    response = acme.api_client(light).patch(
        f"/api/v1/tickets/{ticket.number}/", {"priority": "low"}, content_type="application/json"
    )
    assert response.status_code == 403
    with tenant_context(acme.id):
        ticket.refresh_from_db()
        assert (ticket.status, ticket.priority) == ("open", "normal")


def test_the_sidebar_can_close_a_ticket_while_sending_every_field(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        ticket = make_ticket(tags=["x"])
        services.assign_ticket(ticket=ticket, assignee=acme.admin, actor=None)
    response = acme.client(acme.admin).post(
        f"/tickets/{ticket.number}/update/",
        {
            "status": "closed",
            "priority": "normal",
            "department": str(acme.department.id),
            "assignee": str(acme.admin.id),
            "tags": "x",
        },
        follow=True,
    )
    assert b"Ticket updated." in response.content
    with tenant_context(acme.id):
        ticket.refresh_from_db()
        assert ticket.status == "closed"
        other = make_ticket()
        services.assign_ticket(ticket=other, assignee=acme.admin, actor=None)
    patched = acme.api_client().patch(
        f"/api/v1/tickets/{other.number}/",
        {"status": "closed", "assignee": str(acme.admin.id)},
        content_type="application/json",
    )
    assert patched.status_code == 200
    assert patched.json()["status"] == "closed"


def test_odd_input_gets_a_clear_answer_not_a_server_error(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        ticket = make_ticket()
    client = acme.client(acme.admin)
    assert client.get("/inbox/?created_after=2024-02-30").status_code == 400
    assert acme.api_client().get("/api/v1/tickets/?created_after=2024-02-30").status_code == 400
    assert client.get("/inbox/?page=%C2%B2").status_code == 200
    response = client.post(
        "/inbox/bulk/",
        {"tickets": [str(ticket.number), "²"], "action": "assign", "value": "bogus"},
        follow=True,
    )
    assert b"Choose an agent." in response.content
    api = acme.api_client()
    bad = api.post(
        "/api/v1/tickets/bulk/",
        {"tickets": [ticket.number], "action": "assign", "value": "bogus"},
        content_type="application/json",
    )
    assert bad.status_code == 400
    too_many = api.post(
        "/api/v1/tickets/bulk/",
        {"tickets": list(range(1, 502)), "action": "spam"},
        content_type="application/json",
    )
    assert too_many.status_code == 400


def test_a_ticket_that_is_gone_is_a_404_on_every_action(acme: TenantSetup) -> None:
    """An open page keeps pinging presence and posting after its ticket went (or for a
    number that never was): the 404 page, not a server error."""
    client = acme.client(acme.admin)
    for url in ("presence", "messages", "update", "spam", "merge", "followers"):
        response = client.post(f"/tickets/4242/{url}/", {"body": "x", "kind": "note"})
        assert response.status_code == 404, url
        assert "does not exist" in response.content.decode()
    assert client.get("/tickets/4242/merge/").status_code == 404


def test_inactive_choices_stay_selected_on_the_ticket_page(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        parts = configuration.save_custom_status(name="Waiting for parts", base_status="on_hold")
        ticket = make_ticket(priority="urgent")
        services.update_ticket(ticket=ticket, actor=acme.admin, custom_status=parts)
        configuration.save_custom_status(
            name="Waiting for parts", base_status="on_hold", custom_status=parts, is_active=False
        )
        configuration.update_settings(
            priorities=[
                {"value": "low", "label": "Low"},
                {"value": "normal", "label": "Normal"},
                {"value": "high", "label": "High"},
            ]
        )
    page = acme.client(acme.admin).get(f"/tickets/{ticket.number}/").content.decode()
    assert f'value="custom:{parts.id}" selected' in page
    assert 'value="urgent" selected' in page


def test_the_agents_own_status_email_does_not_make_the_reply_stale(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        ticket = make_ticket()
        seen = selectors.latest_message_id(ticket)
        services.update_ticket(ticket=ticket, actor=acme.admin, status="waiting")
        assert Message.objects.filter(ticket=ticket, is_automatic=True).exists()
        services.add_message(
            ticket=ticket, kind="reply", body="Details", actor=acme.admin, seen_up_to=seen
        )


def test_merge_clears_the_custom_status_and_split_refreshes_the_snippet(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        parts = configuration.save_custom_status(name="Parts", base_status="on_hold")
        survivor = make_ticket(subject="A")
        merged = make_ticket(subject="B")
        services.update_ticket(ticket=merged, actor=acme.admin, custom_status=parts)
        merging.merge_tickets(survivor=survivor, others=[merged], actor=acme.admin)
        merged.refresh_from_db()
        assert merged.custom_status_id is None
        ticket = make_ticket(body="The printer")
        latest = services.add_customer_message(
            ticket=ticket, contact=ticket.contact, body="And the invoice"
        )
        merging.split_message(message=latest, actor=acme.admin)
        ticket.refresh_from_db()
        assert ticket.last_message_snippet == "The printer"


def test_configuration_cache_follows_commits_and_ignores_rollbacks(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    with tenant_context(acme.id):
        assert configuration.active_ticket_types() == []  # cached: empty
        with django_capture_on_commit_callbacks(execute=True):
            configuration.save_ticket_type(name="Bug")
        assert [t.name for t in configuration.active_ticket_types()] == ["Bug"]
        with pytest.raises(RuntimeError):
            _save_then_fail()
        assert [t.name for t in configuration.active_ticket_types()] == ["Bug"]


def _save_then_fail() -> None:
    with transaction.atomic():
        configuration.save_ticket_type(name="Rolled back")
        assert len(configuration.active_ticket_types()) == 2  # this transaction sees it
        raise RuntimeError


def test_search_finds_by_every_part_and_never_crosses_tenants(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    with tenant_context(globex.id):
        make_ticket(subject="Flux capacitor", body="The flux capacitor hums")
    with tenant_context(acme.id):
        company = Company.objects.create(name="Initech", domains=["initech.test"])
        contact = make_contact(email="peter@initech.test", name="Peter Gibbons", company=company)
        make_ticket(
            subject="TPS reports", body="Order 5512 is missing", contact=contact, tags=["vip"]
        )
        assert TicketSearch.objects.filter(tenant_id=acme.id).count() == 1
    api = acme.api_client()
    for words in ("tps", "5512", "gibbons", "peter@initech.test", "initech", "vip"):
        assert _subjects(api.get(f"/api/v1/tickets/?q={words}")) == ["TPS reports"], words
    assert _subjects(api.get("/api/v1/tickets/?q=flux")) == []
    assert b"Flux capacitor" not in acme.client(acme.admin).get("/inbox/?q=flux").content


def test_reply_editor_links_published_articles_that_customers_can_open(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    from knowledge_base import services as kb_services

    with tenant_context(acme.id):
        category = kb_services.create_category(name="Basics")
        kb_services.create_article(
            category=category,
            title="Reset a password",
            body="Use the link.",
            author=None,
            publish=True,
        )
        kb_services.create_article(
            category=category, title="Password policy draft", body="x", author=None
        )
        ticket = make_ticket()
    picker = acme.client(acme.admin).get(f"/tickets/{ticket.number}/articles/?q=password")
    html = picker.content.decode()
    assert "Reset a password: http://acme.localhost" in html
    assert "/help/reset-a-password/" in html
    assert "Password policy draft" not in html  # drafts are not linked
    customer = acme.client()  # nobody logged in
    assert b"Use the link." in customer.get("/help/reset-a-password/").content
    assert customer.get("/help/password-policy-draft/").status_code == 404
    assert globex.client().get("/help/reset-a-password/").status_code == 404


def test_the_public_help_center_lists_and_searches_published_articles(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    from knowledge_base import services as kb_services

    with tenant_context(acme.id):
        basics = kb_services.create_category(name="Basics")
        billing = kb_services.create_category(name="Billing", position=1)
        for category, title, body in (
            (basics, "Reset a password", "Use the link in the mail."),
            (billing, "Download an invoice", "Invoices are under Account."),
        ):
            kb_services.create_article(
                category=category, title=title, body=body, author=None, publish=True
            )
        kb_services.create_article(category=basics, title="Secret draft", body="x", author=None)
    customer = acme.client()  # nobody logged in
    home = customer.get("/help/").content.decode()
    assert home.index("Basics") < home.index("Reset a password") < home.index("Billing")
    assert 'href="/help/download-an-invoice/"' in home
    assert "Secret draft" not in home
    found = customer.get("/help/?q=invoice account").content.decode()
    assert "1 article for" in found
    assert "Download an invoice" in found
    assert "Reset a password" not in found
    assert "Nothing matches" in customer.get("/help/?q=draft").content.decode()
    article = customer.get("/help/reset-a-password/").content.decode()
    assert 'href="/help/">Help center</a>' in article  # back to the center, not the login
    assert "Reset a password" not in globex.client().get("/help/").content.decode()


def test_load_remote_images_is_offered_only_where_there_are_some(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        ticket = make_ticket(subject="Newsletter")
        for html in (
            '<p>Logo: <img data-remote-src="https://tracker.example/pixel.gif"></p>',
            "<p>Just <b>bold</b> text</p>",
        ):
            Message.objects.create(
                ticket=ticket,
                kind="customer",
                body_text="x",
                body_html=html,
                author_contact=ticket.contact,
            )
    page = acme.client(acme.admin).get(f"/tickets/{ticket.number}/").content.decode()
    assert page.count('<div class="html-body">') == 2  # formatted by default
    assert page.count("Load remote images") == 1


def test_the_reply_status_default_says_what_a_reply_does(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        open_ticket = make_ticket(subject="Open one")
        solved = make_ticket(subject="Solved one")
        services.change_status(ticket=solved, status="solved", actor=None)
    client = acme.client(acme.admin)
    page = client.get(f"/tickets/{open_ticket.number}/").content.decode()
    assert '<option value="">Waiting on customer (what a reply sets)</option>' in page
    assert "Setting waiting on customer or solved here emails the customer" in page
    page = client.get(f"/tickets/{solved.number}/").content.decode()
    assert '<option value="">Keep as is: solved</option>' in page


def test_a_too_long_tag_is_refused_not_cut(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        ticket = make_ticket(tags=["old"])
    long_tag = "x" * 61
    refused = acme.client(acme.admin).post(
        f"/tickets/{ticket.number}/update/",
        {
            "status": "open",
            "priority": "normal",
            "department": str(acme.department.id),
            "tags": f"vip, {long_tag}",
        },
    )
    assert refused.status_code == 400
    assert "A tag has at most 60 characters" in refused.content.decode()
    with tenant_context(acme.id):
        assert list(ticket.tags.values_list("name", flat=True)) == ["old"]
