"""Tasks on tickets and the clocks: the API (`/api/v1/tasks/`, README "Tasks and
reminders"), reminders sent once as an in-app notification of kind task_reminder and an
email, "on hold until", and tickets left waiting on the customer solved with a notice."""

from __future__ import annotations

import datetime

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone
from pytest_django import DjangoCaptureOnCommitCallbacks

from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import MembershipRole
from tests.conftest import TenantSetup, make_tenant
from tests.factories.accounts import make_member
from tests.factories.tickets import make_ticket
from tests.pages import element, sidebar_panel
from tickets.configuration import services as configuration
from tickets.errors import TaskInvalid
from tickets.models import (
    Message,
    Notification,
    Ticket,
    TicketStatus,
    TicketTask,
)
from tickets.reminders import services as reminders
from tickets.reminders import tasks as reminder_tasks
from tickets.ticket import services as ticket_services

HOUR = datetime.timedelta(hours=1)


@pytest.fixture
def api(acme: TenantSetup) -> Client:
    return acme.api_client()


def _ticket(acme: TenantSetup) -> Ticket:
    with tenant_context(acme.id):
        return make_ticket(subject="Printer jam")


def test_create_read_update_delete_by_the_contract(api: Client, acme: TenantSetup) -> None:
    ticket = _ticket(acme)
    with tenant_context(acme.id):
        lee = make_member(acme.tenant, MembershipRole.LIGHT_AGENT, name="Lee Light")
    due = (timezone.now() + 2 * HOUR).replace(microsecond=0)
    created = api.post(
        "/api/v1/tasks/",
        {
            "ticket": ticket.number,
            "title": "Call the customer back",
            "assignee": str(lee.id),
            "due_at": due.isoformat(),
            "remind_at": (due - HOUR).isoformat(),
        },
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["ticket"] == ticket.number
    assert body["title"] == "Call the customer back"
    assert body["assignee"] == str(lee.id)
    assert datetime.datetime.fromisoformat(body["due_at"]) == due
    assert body["done"] is False
    assert body["overdue"] is False
    url = f"/api/v1/tasks/{body['id']}/"
    assert api.get(url).json()["title"] == "Call the customer back"
    changed = api.patch(url, {"done": True}, content_type="application/json")
    assert changed.status_code == 200
    assert changed.json()["done"] is True
    listed = api.get(f"/api/v1/tasks/?ticket={ticket.number}").json()
    assert [t["id"] for t in listed["results"]] == [body["id"]]
    assert api.delete(url).status_code == 204
    assert api.get(url).status_code == 404


def test_assignee_defaults_to_the_caller_and_me_filters(api: Client, acme: TenantSetup) -> None:
    ticket = _ticket(acme)
    created = api.post(
        "/api/v1/tasks/",
        {"ticket": ticket.number, "title": "Mine"},
        content_type="application/json",
    ).json()
    assert created["assignee"] == str(acme.admin.id)
    mine = api.get("/api/v1/tasks/?assignee=me&done=false").json()["results"]
    assert [t["id"] for t in mine] == [created["id"]]


@pytest.mark.parametrize(
    "payload",
    [
        {"ticket": 999, "title": "x"},
        {"title": "no ticket"},
        {"ticket": "abc", "title": "x"},
        {"ticket": 1, "title": ""},
        {"ticket": 1, "title": "   "},
        {"ticket": 1, "title": "x" * 201},
        {"ticket": 1, "title": "x", "assignee": "not-a-uuid"},
        {"ticket": 1, "title": "x", "assignee": "0190b2d4-0000-7000-8000-000000000000"},
        {"ticket": 1, "title": "x", "due_at": "tomorrow"},
        {"ticket": 1, "title": "x", "due_at": "9999-12-31T23:59:00Z"},
        {"ticket": 1, "title": "x", "remind_at": "1899-12-31T23:59:00Z"},
        {"ticket": 1, "title": "x", "colour": "red"},
        {"ticket": 1, "title": "x", "done": "maybe"},
    ],
)
def test_bad_input_is_a_4xx(api: Client, acme: TenantSetup, payload: dict[str, object]) -> None:
    _ticket(acme)
    response = api.post("/api/v1/tasks/", payload, content_type="application/json")
    assert 400 <= response.status_code < 500, response.content
    assert "error" in response.json()


def test_bad_queries_and_ids_are_4xx(api: Client, acme: TenantSetup) -> None:
    for url in (
        "/api/v1/tasks/?ticket=abc",
        "/api/v1/tasks/?assignee=nobody",
        "/api/v1/tasks/?done=perhaps",
        "/api/v1/tasks/?ticket=42",
        "/api/v1/tasks/0190b2d4-0000-7000-8000-000000000000/",
    ):
        response = api.get(url)
        assert 400 <= response.status_code < 500, (url, response.content)
    response = api.patch(
        "/api/v1/tasks/0190b2d4-0000-7000-8000-000000000000/",
        {"title": "x"},
        content_type="application/json",
    )
    assert response.status_code == 404


def test_another_tenants_tasks_are_404(api: Client, acme: TenantSetup, globex: TenantSetup) -> None:
    ticket = _ticket(globex)
    with tenant_context(globex.id):
        theirs = reminders.create_task(ticket=ticket, title="Theirs", actor=globex.admin)
    url = f"/api/v1/tasks/{theirs.id}/"
    assert api.get(url).status_code == 404
    assert api.patch(url, {"done": True}, content_type="application/json").status_code == 404
    assert api.delete(url).status_code == 404
    assert api.get("/api/v1/tasks/").json()["results"] == []
    # Their ticket number and their member are not ours either.
    _ticket(acme)
    response = api.post(
        "/api/v1/tasks/",
        {"ticket": 1, "title": "x", "assignee": str(globex.admin.id)},
        content_type="application/json",
    )
    assert response.status_code == 400
    with tenant_context(globex.id):
        assert TicketTask.objects.get().done is False


def test_openapi_describes_tasks(api: Client) -> None:
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert {"get", "post"} <= set(schema["paths"]["/api/v1/tasks/"])
    assert {"get", "patch", "delete"} <= set(schema["paths"]["/api/v1/tasks/{task_id}/"])
    assert "remind_at" in schema["components"]["schemas"]["TaskOutput"]["properties"]


def test_reminder_notifies_in_the_app_and_by_email_once(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    ticket = _ticket(acme)
    with tenant_context(acme.id):
        lee = make_member(acme.tenant, MembershipRole.LIGHT_AGENT, email="lee@acme.test")
        task = reminders.create_task(
            ticket=ticket,
            title="Check the toner",
            actor=acme.admin,
            assignee_id=lee.id,
            remind_at=timezone.now() - datetime.timedelta(minutes=1),
        )
        later = reminders.create_task(
            ticket=ticket, title="Later", actor=acme.admin, remind_at=timezone.now() + HOUR
        )
    with django_capture_on_commit_callbacks(execute=True):
        reminder_tasks.run_ticket_clocks(tenant_id=str(acme.id))
    with django_capture_on_commit_callbacks(execute=True):
        reminder_tasks.run_ticket_clocks(tenant_id=str(acme.id))  # a second run, a restart
    with tenant_context(acme.id):
        [notice] = Notification.objects.all()
        assert (notice.member_id, notice.kind, notice.ticket_id) == (
            lee.id,
            "task_reminder",
            ticket.id,
        )
        task.refresh_from_db()
        assert task.reminded_at is not None
        later.refresh_from_db()
        assert later.reminded_at is None
    [sent] = mail.outbox
    assert sent.to == ["lee@acme.test"]
    assert "A reminder of your task" in sent.subject
    assert "Check the toner" in sent.body
    client = acme.api_client(lee)
    [listed] = client.get("/api/v1/notifications/").json()["results"]
    assert listed["kind"] == "task_reminder"
    assert listed["ticket"] == ticket.number


@pytest.mark.django_db(transaction=True, databases=["default", "ops"])
def test_beat_wakes_only_tenants_with_work_due() -> None:
    acme, globex = make_tenant("acme", "Acme"), make_tenant("globex", "Globex")
    with tenant_context(acme.id):
        reminders.remind_me(
            ticket=make_ticket(),
            actor=acme.admin,
            at=timezone.now() - datetime.timedelta(minutes=1),
        )
    with tenant_context(globex.id):
        reminders.remind_me(ticket=make_ticket(), actor=globex.admin, at=timezone.now() + HOUR)
    assert reminder_tasks.sweep_ticket_clocks.apply().get() == 1
    assert reminder_tasks.sweep_ticket_clocks.apply().get() == 0  # sent: nothing due any more
    with tenant_context(acme.id):
        assert Notification.objects.filter(kind="task_reminder").count() == 1
    with tenant_context(globex.id):
        assert not Notification.objects.exists()


def test_a_new_reminder_time_arms_it_again(
    tenant: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    ticket = make_ticket()
    task = reminders.remind_me(
        ticket=ticket, actor=tenant.admin, at=timezone.now() - datetime.timedelta(minutes=1)
    )
    assert reminders.send_due_reminders() == 1
    assert reminders.send_due_reminders() == 0
    reminders.update_task(
        task=task,
        actor=tenant.admin,
        changes={"remind_at": timezone.now() - datetime.timedelta(seconds=1)},
    )
    assert reminders.send_due_reminders() == 1
    assert Notification.objects.filter(kind="task_reminder").count() == 2


def test_done_tasks_are_not_reminded(tenant: TenantSetup) -> None:
    ticket = make_ticket()
    reminders.create_task(
        ticket=ticket, title="x", actor=tenant.admin, remind_at=timezone.now() - HOUR, done=True
    )
    assert reminders.send_due_reminders() == 0


def test_my_tasks_lists_overdue_first(tenant: TenantSetup) -> None:
    ticket = make_ticket()
    now = timezone.now()
    reminders.create_task(ticket=ticket, title="No date", actor=tenant.admin)
    reminders.create_task(
        ticket=ticket, title="Tomorrow", actor=tenant.admin, due_at=now + 24 * HOUR
    )
    reminders.create_task(ticket=ticket, title="Late", actor=tenant.admin, due_at=now - HOUR)
    reminders.create_task(
        ticket=ticket, title="Done", actor=tenant.admin, due_at=now - HOUR, done=True
    )
    from tickets.reminders import selectors

    titles = [t.title for t in selectors.list_my_tasks(member_id=tenant.admin.id, now=now)]
    assert titles == ["Late", "Tomorrow", "No date"]


def test_on_hold_until_returns_the_ticket_to_open(tenant: TenantSetup) -> None:
    ticket = make_ticket()
    reminders.hold_until(ticket=ticket, until=timezone.now() + HOUR, actor=tenant.admin)
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.ON_HOLD
    assert reminders.release_due_holds() == 0
    assert reminders.release_due_holds(now=timezone.now() + 2 * HOUR) == 1
    assert reminders.release_due_holds(now=timezone.now() + 3 * HOUR) == 0
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.OPEN


def test_a_hold_in_the_past_is_refused(tenant: TenantSetup) -> None:
    ticket = make_ticket()
    with pytest.raises(TaskInvalid):
        reminders.hold_until(ticket=ticket, until=timezone.now() - HOUR, actor=tenant.admin)


def test_a_ticket_moved_on_meanwhile_stays_as_it_is(tenant: TenantSetup) -> None:
    ticket = make_ticket()
    reminders.hold_until(ticket=ticket, until=timezone.now() + HOUR, actor=tenant.admin)
    ticket_services.change_status(ticket=ticket, status=TicketStatus.SOLVED, actor=tenant.admin)
    assert reminders.release_due_holds(now=timezone.now() + 2 * HOUR) == 0
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.SOLVED


def test_waiting_tickets_are_solved_after_the_tenants_days(
    tenant: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    stale = make_ticket(subject="Stale")
    fresh = make_ticket(subject="Fresh")
    for ticket in (stale, fresh):
        ticket_services.change_status(
            ticket=ticket, status=TicketStatus.WAITING, actor=tenant.admin
        )
    Ticket.objects.filter(id=stale.id).update(last_message_at=timezone.now() - 8 * 24 * HOUR)
    Ticket.objects.filter(id=fresh.id).update(last_message_at=timezone.now() - HOUR)
    assert reminders.solve_stale_waiting() == 0  # off by default
    configuration.update_settings(auto_solve_waiting_days=7)
    with django_capture_on_commit_callbacks(execute=True):
        assert reminders.solve_stale_waiting() == 1
    assert reminders.solve_stale_waiting() == 0
    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert (stale.status, fresh.status) == (TicketStatus.SOLVED, TicketStatus.WAITING)
    # The customer is told: the solved status mail.
    assert Message.objects.filter(ticket=stale, kind="reply").exists()


# --- Pages ------------------------------------------------------------------------------


def test_ticket_tasks_panel_adds_completes_and_reminds(acme: TenantSetup) -> None:
    ticket = _ticket(acme)
    client = acme.client(acme.admin)
    url = f"/tickets/{ticket.number}/tasks/"
    assert b"No tasks." in client.get(url).content
    added = client.post(
        url, {"action": "add", "title": "Order toner", "due_at": "2020-01-01T09:00"}
    )
    assert added.status_code == 200
    assert b"Order toner" in added.content
    assert b"Overdue" in added.content
    with tenant_context(acme.id):
        task = TicketTask.objects.get()
        assert task.assignee_id == acme.admin.id
    done = client.post(url, {"action": "done", "task": str(task.id)})
    assert b"Reopen" in done.content
    reminded = client.post(url, {"action": "remind", "remind_at": "2099-01-01T09:00"})
    assert b"reminder" in reminded.content
    held = client.post(url, {"action": "hold", "until": "2099-01-01T09:00"})
    assert b"On hold until" in held.content
    with tenant_context(acme.id):
        ticket.refresh_from_db()
        assert ticket.status == TicketStatus.ON_HOLD
        assert TicketTask.objects.count() == 2
    page = client.get("/tasks/").content
    assert b"My tasks" in page
    assert b"Reminder" in page
    assert b"Order toner" not in page  # done


def test_the_ticket_page_draws_its_tasks_panel(acme: TenantSetup) -> None:
    """With the page and its sidebar refresh, not by a request of its own once there."""
    ticket = _ticket(acme)
    client = acme.client(acme.admin)
    url = f"/tickets/{ticket.number}/tasks/"
    client.post(url, {"action": "add", "title": "Order toner", "due_at": "2020-01-01T09:00"})
    panel = sidebar_panel(client, ticket.number, "tasks-panel")
    assert "Order toner" in panel
    assert "Overdue" in panel
    assert "hx-trigger" not in panel
    assert element(panel, "ticket-tasks") == element(
        client.get(url).content.decode(), "ticket-tasks"
    )


def test_ticket_tasks_panel_bad_input_is_a_4xx(acme: TenantSetup) -> None:
    ticket = _ticket(acme)
    client = acme.client(acme.admin)
    url = f"/tickets/{ticket.number}/tasks/"
    for data in (
        {"action": "add", "title": ""},
        {"action": "add", "title": "x", "assignee": "nope"},
        {"action": "done", "task": "nope"},
        {"action": "done", "task": "0190b2d4-0000-7000-8000-000000000000"},
        {"action": "remind", "remind_at": "soon"},
        {"action": "hold", "until": "2000-01-01T00:00"},
        {"action": "explode"},
        # Out of range: stored, they broke every page showing them in a zone east of UTC.
        {"action": "add", "title": "x", "due_at": "9999-12-31T23:59"},
        {"action": "add", "title": "x", "remind_at": "0001-01-01T00:00"},
        {"action": "remind", "remind_at": "9999-12-31T23:59"},
        {"action": "hold", "until": "9999-12-31T23:59"},
    ):
        response = client.post(url, data)
        assert 400 <= response.status_code < 500, (data, response.status_code)
    assert client.get("/tickets/999/tasks/").status_code == 404


def test_another_tenants_ticket_tasks_are_404(acme: TenantSetup, globex: TenantSetup) -> None:
    theirs = _ticket(globex)
    with tenant_context(globex.id):
        task = reminders.create_task(ticket=theirs, title="Secret", actor=globex.admin)
    _ticket(acme)  # acme's #1
    client = acme.client(acme.admin)
    page = client.get(f"/tickets/{theirs.number}/tasks/")
    assert b"Secret" not in page.content
    response = client.post(
        f"/tickets/{theirs.number}/tasks/", {"action": "delete", "task": str(task.id)}
    )
    assert response.status_code == 404
    with tenant_context(globex.id):
        assert TicketTask.objects.filter(id=task.id).exists()
    assert b"Secret" not in client.get("/tasks/").content


def test_overdue_tasks_show_in_the_inbox(acme: TenantSetup) -> None:
    ticket = _ticket(acme)
    with tenant_context(acme.id):
        calm = make_ticket(subject="Calm")
        reminders.create_task(
            ticket=ticket, title="Late", actor=acme.admin, due_at=timezone.now() - HOUR
        )
        reminders.create_task(
            ticket=calm, title="Later", actor=acme.admin, due_at=timezone.now() + HOUR
        )
    page = acme.client(acme.admin).get("/inbox/?view=all").content.decode()
    late_row = page.split(f'id="ticket-{ticket.number}"')[1].split("</tr>")[0]
    calm_row = page.split(f'id="ticket-{calm.number}"')[1].split("</tr>")[0]
    assert "Overdue task" in late_row
    assert "Overdue task" not in calm_row
