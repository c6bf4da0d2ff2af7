"""The inbox rows built in Python (tickets/inbox/rows.py) are the markup the row template
rendered, byte for byte: the template as it was before the change is kept here and
rendered beside them for tickets in every state a row can show."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
from django.template import engines
from django.utils import timezone

from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.models import Membership, MembershipRole
from tests.conftest import TenantSetup
from tests.factories.accounts import make_member
from tests.factories.tickets import make_contact, make_ticket
from tickets.inbox import rows
from tickets.inbox import services as inbox
from tickets.models import CustomStatus, Tag, Ticket, TicketRead, TicketTag
from tickets.reminders import services as reminders

# The inbox's row loop as templates/tickets/inbox.html had it until the rows were built in
# Python (its `{% empty %}` branch is still in the page template).
REFERENCE_ROWS = """{% for ticket in page.object_list %}
          {% url 'tickets:ticket-detail' ticket.number as ticket_url %}
          <tr id="ticket-{{ ticket.number }}" class="ticket-row{% if not ticket.is_read %} unread{% endif %}" data-href="{{ ticket_url }}">
            {% if may.change_tickets %}<td class="cell-select"><input type="checkbox" name="tickets" value="{{ ticket.number }}" aria-label="Select #{{ ticket.number }}"></td>{% endif %}
            <td class="cell-number">{{ ticket.number }}</td>
            <td class="cell-subject">{% if not ticket.is_read %}<span class="unread-dot" title="New activity since you last opened it" aria-label="Unread"></span>{% endif %}<a href="{{ ticket_url }}" title="{{ ticket.subject }}">{{ ticket.subject }}</a>
              {% if ticket.has_overdue_task %}<span class="badge overdue" title="A task on this ticket is past its due time">Overdue task</span>{% endif %}
              {% for tag in ticket.tags.all %}<span class="tag">{{ tag.name }}</span>{% endfor %}
              {% if ticket.last_message_snippet %}<span class="snippet muted">{{ ticket.last_message_snippet }}</span>{% endif %}</td>
            <td class="hide-small cell-customer" title="{{ ticket.contact.email }}">{{ ticket.contact.display_name }}</td>
            <td class="cell-status"><span class="badge status-{{ ticket.status }}">{% if ticket.custom_status %}{{ ticket.custom_status.name }}{% else %}{{ ticket.get_status_display }}{% endif %}</span></td>
            <td class="hide-small cell-priority"><span class="badge priority-{{ ticket.priority }}">{{ ticket.priority_label }}</span></td>
            <td class="hide-small cell-assignee">{% if ticket.assignee %}<span class="with-dot">{% include "accounts/availability_dot.html" with who=ticket.assignee %}{{ ticket.assignee.user.display_name }}</span>{% else %}—{% endif %}</td>
            <td class="hide-small cell-sla">{% include "tickets/sla_countdown.html" %}</td>
            <td class="hide-small cell-updated"><time datetime="{{ ticket.updated_at|date:'c' }}" class="relative">{{ ticket.updated_at|date:"M j, H:i" }}</time></td>
          </tr>
        {% endfor %}"""  # noqa: E501


def _reference(tickets: list[Any], *, selectable: bool, now: datetime.datetime) -> str:
    template = engines["django"].from_string(REFERENCE_ROWS)
    context = {"page": {"object_list": tickets}, "may": {"change_tickets": selectable}, "now": now}
    return template.render(context)


def _rows(reader: Membership, now: datetime.datetime) -> list[Any]:
    """The tickets as the inbox view hands them to the rows: every ticket, annotated for
    the reader, with the relations the view attaches."""
    _key, _title, _filters, _sort, tickets = inbox.inbox_tickets(
        {}, reader=reader, language="en", default=None
    )
    loaded = list(tickets.select_related(None).select_related("contact"))
    rows.attach_row_relations(loaded, list(tenancy_selectors.list_agents()))
    return loaded


def _variety(tenant: TenantSetup, now: datetime.datetime) -> Membership:
    """Tickets in every state a row shows; returns the member who reads the inbox."""
    online = make_member(tenant.tenant, name="Ana <Agent> & co")
    away = make_member(tenant.tenant, name="Ben O'Hara")
    Membership.objects.filter(id=away.id).update(availability="away", on_shift=False)
    hour = datetime.timedelta(hours=1)

    def ticket(subject: str, **columns: Any) -> Ticket:
        made = make_ticket(subject=subject)
        if columns:
            Ticket.objects.filter(id=made.id).update(**columns)
        return made

    breached = ticket(
        'Printer <jam> & "paper"',
        assignee_id=online.id,
        sla_due_at=now - 3 * hour,
        sla_metric="first_response",
        priority="urgent",
    )
    ticket("Due soon", sla_due_at=now + hour / 2, sla_metric="resolution", priority="low")
    ticket(
        "On track",
        assignee_id=away.id,
        sla_due_at=now + 50 * hour,
        sla_metric="next_response",
        priority="high",
    )
    parts = CustomStatus.objects.create(name="Awaiting <parts>", base_status="waiting")
    ticket("Paused", status="waiting", custom_status_id=parts.id, sla_paused=True)
    overdue = ticket("Due date past", due_at=now - 49 * hour)
    reminders.create_task(ticket=overdue, title="Call back", actor=online, due_at=now - hour)
    ticket("Due date ahead", due_at=now + 26 * hour, status="solved")
    nameless = make_contact(name="", email="no.name@example.test")
    plain = make_ticket(subject="Nothing else", contact=nameless)
    Ticket.objects.filter(id=plain.id).update(last_message_snippet="", status="closed")
    for name in ("billing", "a&b <c>"):
        TicketTag.objects.create(ticket=breached, tag=Tag.objects.create(name=name))
    reader = make_member(tenant.tenant, name="Reader")
    TicketRead.objects.create(ticket=plain, member=reader, read_at=now + hour)
    TicketRead.objects.create(ticket=overdue, member=reader, read_at=now + hour)
    return reader


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/St_Johns"])
@pytest.mark.parametrize("selectable", [True, False])
def test_rows_are_the_row_templates_markup(
    tenant: TenantSetup, zone: str, selectable: bool
) -> None:
    now = timezone.now()
    reader = _variety(tenant, now)
    tickets = _rows(reader, now)
    assert len(tickets) == 7
    tickets[0].priority_label = "Très <urgent>"  # a tenant's own label, escaped as well
    with timezone.override(zone):
        built = rows.render_inbox_rows(tickets, selectable=selectable, now=now)
        assert built == _reference(tickets, selectable=selectable, now=now)
    # The variety is really there (a row template that silently rendered less would pass).
    for shown in (
        "sla-breached", "sla-due-soon", "sla-on-track", "sla-paused", "Overdue task",
        "Awaiting &lt;parts&gt;", "a&amp;b &lt;c&gt;", "availability-away", "off shift",
        "no.name@example.test", 'class="overdue">Due', "Due in", " unread", "—",
    ):  # fmt: skip
        assert shown in built, shown
    assert ("cell-select" in built) is selectable
    assert len(re.findall(r'class="ticket-row"', built)) == 2  # the two read ones


def test_light_agent_inbox_page_has_rows_without_checkboxes(acme: TenantSetup) -> None:
    from helpdesk.tenancy.context import tenant_context

    with tenant_context(acme.id):
        light = make_member(acme.tenant, MembershipRole.LIGHT_AGENT)
        shown = make_ticket(subject="Seen <by> a light agent")
    response = acme.client(light).get("/inbox/?view=open")
    assert response.status_code == 200
    body = response.content.decode()
    assert f'<tr id="ticket-{shown.number}" class="ticket-row unread"' in body
    assert "Seen &lt;by&gt; a light agent" in body
    assert "cell-select" not in body


def test_inbox_page_rows_match_the_row_template(acme: TenantSetup) -> None:
    from helpdesk.tenancy.context import tenant_context

    now = timezone.now()
    with tenant_context(acme.id):
        reader = _variety(acme, now)
    response = acme.client(reader).get("/inbox/?status=open,waiting,on_hold,solved,closed")
    body = response.content.decode()
    with tenant_context(acme.id):
        tickets = _rows(reader, now)
    # The page counts from its own `now`: compare every row up to its SLA cell.
    for ticket in tickets:
        start = body.index(f'<tr id="ticket-{ticket.number}"')
        row = body[start : body.index('cell-sla">', start)]
        reference = _reference([ticket], selectable=True, now=now)
        assert reference.strip().startswith(row), ticket.subject
