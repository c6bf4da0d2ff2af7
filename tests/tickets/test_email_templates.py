"""Email templates: tenant wording overridden per department, the sandbox (known
placeholders only), preview, their use in replies, acknowledgements and status emails."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.core.cache import cache
from pytest_django import DjangoAssertNumQueries, DjangoCaptureOnCommitCallbacks

from departments import services as department_services
from departments.errors import InvalidMailboxTemplate
from helpdesk.core import batching
from helpdesk.core.errors import PermissionDenied
from helpdesk.tenancy.context import tenant_context
from tests.conftest import TenantSetup
from tests.factories.accounts import make_member
from tests.tickets.test_inbound import build, deliver
from tickets.configuration import services as configuration
from tickets.errors import InvalidEmailTemplate
from tickets.mail_out import templates
from tickets.models import EmailTemplate, Ticket
from tickets.ticket import services


def test_department_overrides_tenant_overrides_built_in(tenant: TenantSetup) -> None:
    billing = department_services.create_department(name="Billing")
    built_in = templates.effective_template("status_solved", None)
    assert "marked request" in built_in.body
    templates.save_template(
        actor=None,
        kind="status_solved",
        department=None,
        subject="Done",
        body="Solved, {{ contact.first_name }}.",
    )
    templates.save_template(
        actor=None, kind="status_solved", department=billing, body="Billing solved."
    )
    assert templates.effective_template("status_solved", None).body.startswith("Solved,")
    billing_wording = templates.effective_template("status_solved", billing.id)
    assert (billing_wording.subject, billing_wording.body) == ("Done", "Billing solved.")
    templates.reset_template(actor=None, kind="status_solved", department=billing)
    assert templates.effective_template("status_solved", billing.id).body.startswith("Solved,")


def test_wordings_are_read_once_and_forgotten_when_saved(
    tenant: TenantSetup, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    """Every acknowledgement reads two wordings: cached per tenant, dropped on save/reset.
    (The callers pass the tenant's language, which the tests do not cache.)"""
    templates.effective_template("acknowledgement", None)
    with django_assert_num_queries(0):
        templates.compose(kind="acknowledgement", department_id=None, values={}, language="en")
    templates.save_template(actor=None, kind="layout", department=None, footer="-- Acme support")
    with django_assert_num_queries(1):
        assert templates.effective_template("layout", None).footer == "-- Acme support"
    templates.reset_template(actor=None, kind="layout", department=None)
    assert templates.effective_template("layout", None).footer != "-- Acme support"


@pytest.mark.parametrize(
    "body",
    [
        "{{ settings.SECRET_KEY }}",
        "{{ ticket.contact.user.password }}",
        "{% load static %}{{ ticket.number }} {{ request }}",
        "{{ contact.email|upper }}",
    ],
)
def test_only_known_placeholders_are_accepted(tenant: TenantSetup, body: str) -> None:
    with pytest.raises(InvalidEmailTemplate, match="unknown placeholder"):
        templates.save_template(actor=None, kind="status_waiting", department=None, body=body)


def test_agent_name_is_refused_where_no_agent_has_answered_yet(acme: TenantSetup) -> None:
    """The acknowledgement goes out before anyone answers: `{{ agent.name }}` would always
    be empty there (the preview used to show a sample name)."""
    body = "Thanks! - {{ agent.name }}"
    with tenant_context(acme.id):
        with pytest.raises(InvalidEmailTemplate, match="no agent has answered yet"):
            templates.save_template(actor=None, kind="acknowledgement", department=None, body=body)
        with pytest.raises(InvalidMailboxTemplate, match="no agent has answered yet"):
            department_services.update_mailbox(mailbox=acme.mailbox, auto_ack_body=body)
        templates.save_template(actor=None, kind="status_waiting", department=None, body=body)
    page = acme.client(acme.admin).post(
        "/settings/email-templates/acknowledgement/", {"action": "preview", "body": body}
    )
    assert page.status_code == 400
    assert b"no agent has answered yet" in page.content
    assert b"&#123;&#123; agent.name &#125;&#125;" not in page.content  # not offered there


def test_a_subject_longer_than_250_characters_is_refused_on_the_page(acme: TenantSetup) -> None:
    client = acme.client(acme.admin)
    for kind in ("acknowledgement", "status_solved"):
        page = client.post(
            f"/settings/email-templates/{kind}/", {"subject": "x" * 251, "body": "Hello."}
        )
        assert page.status_code == 400, kind
        assert b"The subject is at most 250 characters." in page.content
    with tenant_context(acme.id):
        assert not EmailTemplate.objects.exists()


def test_template_tags_are_inert_text(tenant: TenantSetup) -> None:
    wording = templates.preview(body="{% load static %}{{ contact.first_name }}")
    assert wording.body == "{% load static %}Carla"


def test_reply_wrapper_needs_the_reply(tenant: TenantSetup) -> None:
    with pytest.raises(InvalidEmailTemplate, match=r"reply\.body"):
        templates.save_template(actor=None, kind="reply", department=None, body="Hello")


def test_replies_use_the_wrapper_and_layout(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    with tenant_context(acme.id):
        templates.save_template(
            actor=None, kind="layout", department=None, header="ACME SUPPORT", footer="Hours: 9-17"
        )
        templates.save_template(
            actor=None,
            kind="reply",
            department=None,
            body="Hi {{ contact.first_name }},\n\n{{ reply.body }}\n\n{{ agent.name }}",
        )
    deliver(acme, build())
    with django_capture_on_commit_callbacks(execute=True), tenant_context(acme.id):
        services.add_message(
            ticket=Ticket.objects.get(), kind="reply", body="Fixed.", actor=acme.admin
        )
    body = mail.outbox[-1].body
    assert body.startswith("ACME SUPPORT\n\nHi Carla,\n\nFixed.\n\nAcme Admin")
    assert "Hours: 9-17" in body


def test_status_change_by_an_agent_emails_the_customer(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    deliver(acme, build())
    with tenant_context(acme.id):
        templates.save_template(
            actor=None,
            kind="status_solved",
            department=None,
            subject="Solved [#{{ ticket.number }}]",
            body="All done, {{ contact.first_name }}.",
        )
        ticket = Ticket.objects.get()
    with django_capture_on_commit_callbacks(execute=True), tenant_context(acme.id):
        services.update_ticket(ticket=ticket, actor=acme.admin, status="solved")
    sent = mail.outbox[-1]
    assert sent.subject == f"Solved [#{ticket.number}]"
    assert "All done, Carla." in sent.body
    assert sent.message()["Auto-Submitted"] == "auto-replied"


def test_priority_placeholder_uses_the_tenants_label(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    """Settings -> Tickets renames the levels; the customer reads the same name as agents."""
    deliver(acme, build())
    with tenant_context(acme.id):
        configuration.update_settings(
            priorities=[
                {"value": "low", "label": "P4"},
                {"value": "normal", "label": "P3"},
                {"value": "urgent", "label": "P1 - outage"},
            ]
        )
        templates.save_template(
            actor=None,
            kind="status_solved",
            department=None,
            subject="Solved [#{{ ticket.number }}]",
            body="Priority: {{ ticket.priority }}.",
        )
        ticket = Ticket.objects.get()
    with django_capture_on_commit_callbacks(execute=True), tenant_context(acme.id):
        services.update_ticket(ticket=ticket, actor=acme.admin, priority="urgent")
        services.update_ticket(ticket=ticket, actor=acme.admin, status="solved")
    assert "Priority: P1 - outage." in mail.outbox[-1].body


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("RE: Fwd: invoice question", "Re: Fwd: invoice question"),
        ("AW: Re: Rechnung", "Re: Rechnung"),
        ("Fwd: Re: invoice", "Re: Fwd: Re: invoice"),
        ("Regarding invoices", "Re: Regarding invoices"),
    ],
)
def test_acknowledgement_subject_has_one_reply_prefix(
    acme: TenantSetup,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
    subject: str,
    expected: str,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        deliver(acme, build(subject=subject))
    with tenant_context(acme.id):
        number = Ticket.objects.get().number
    assert mail.outbox[-1].subject == f"{expected} [#{number}]"


def test_editor_page_with_preview_and_errors(acme: TenantSetup) -> None:
    client = acme.client(acme.admin)
    assert b"Satisfaction request" in client.get("/settings/email-templates/").content
    preview = client.post(
        "/settings/email-templates/status_waiting/",
        {
            "action": "preview",
            "subject": "Waiting [#{{ ticket.number }}]",
            "body": "Hello {{ contact.first_name }}",
        },
    )
    assert b"Waiting [#123]" in preview.content
    assert b"Hello Carla" in preview.content
    bad = client.post(
        "/settings/email-templates/status_waiting/",
        {"action": "save", "subject": "x", "body": "{{ nope }}"},
    )
    assert bad.status_code == 400
    assert b"unknown placeholder: {{ nope }}" in bad.content
    for department in ("abc", "00000000-0000-0000-0000-000000000000"):  # was a 500 for "abc"
        missing = client.get(f"/settings/email-templates/reply/?department={department}")
        assert missing.status_code == 404


def test_editor_is_admin_only_and_per_tenant(acme: TenantSetup, globex: TenantSetup) -> None:
    from helpdesk.tenancy.models import MembershipRole
    from tests.factories.accounts import make_member

    agent = make_member(acme.tenant, MembershipRole.AGENT)
    assert acme.client(agent).get("/settings/email-templates/").status_code == 403
    foreign = acme.client(acme.admin).get(
        f"/settings/email-templates/reply/?department={globex.department.id}"
    )
    assert foreign.status_code == 404


def test_templates_api(acme: TenantSetup, globex: TenantSetup) -> None:
    api = acme.api_client()
    listed = api.get("/api/v1/email-templates/").json()
    assert {t["kind"] for t in listed} >= {"layout", "reply", "satisfaction_request"}
    saved = api.put(
        "/api/v1/email-templates/status_waiting/",
        {"subject": "Waiting", "body": "Please answer, {{ contact.first_name }}"},
        content_type="application/json",
    )
    assert saved.status_code == 200
    assert saved.json()["custom"] is True
    dept = api.put(
        f"/api/v1/email-templates/status_waiting/?department={acme.department.id}",
        {"body": "Support waits."},
        content_type="application/json",
    )
    assert dept.json()["subject"] == "Waiting"  # inherited field
    bad = api.put(
        "/api/v1/email-templates/status_waiting/",
        {"body": "{{ x.y }}"},
        content_type="application/json",
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid_email_template"
    preview = api.post(
        "/api/v1/email-templates/preview/",
        {"body": "#{{ ticket.number }}"},
        content_type="application/json",
    )
    assert preview.json()["body"] == "#123"
    assert api.get("/api/v1/email-templates/nope/").status_code == 404
    foreign = api.get(f"/api/v1/email-templates/reply/?department={globex.department.id}")
    assert foreign.status_code == 404
    assert api.delete("/api/v1/email-templates/status_waiting/").status_code == 204


def test_acknowledgement_carries_a_working_tracking_link(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    import re

    with django_capture_on_commit_callbacks(execute=True):
        deliver(acme, build(body="My printer is on fire"))
    with tenant_context(acme.id):
        ticket = Ticket.objects.get()
        services.add_message(ticket=ticket, kind="note", body="internal only", actor=acme.admin)
    body = mail.outbox[0].body
    assert isinstance(body, str)
    link = re.search(r"http://acme\.localhost(/track/\S+/)", body)
    assert link, body
    page = acme.client().get(link.group(1))  # no login: the customer's view
    assert page.status_code == 200
    assert b"My printer is on fire" in page.content
    assert b"internal only" not in page.content
    assert acme.client().get("/track/forged-token/").status_code == 404


def test_tracking_page_names_followers_and_keeps_you_for_the_requester(acme: TenantSetup) -> None:
    from tickets.mail_out import tracking

    deliver(acme, build(body="My printer is on fire", Cc="Dan Brown <dan@example.test>"))
    with tenant_context(acme.id):
        ticket = Ticket.objects.get()
    deliver(
        acme,
        build(
            subject=f"Re: Printer on fire [#{ticket.number}]",
            sender="Dan Brown <dan@example.test>",
            body="Mine too",
        ),
    )
    page = acme.client().get(f"/track/{tracking.tracking_token(ticket.id)}/")
    headers = re.findall(r"<header><strong>(.*?)</strong>", page.content.decode())
    assert headers[0] == "You"
    assert headers[-1] == "Dan Brown"


def test_tracking_link_of_another_tenant_is_404(acme: TenantSetup, globex: TenantSetup) -> None:
    from tests.factories.tickets import make_ticket
    from tickets.mail_out import tracking

    with tenant_context(globex.id):
        ticket = make_ticket(subject="Globex secret")
    response = acme.client().get(f"/track/{tracking.tracking_token(ticket.id)}/")
    assert response.status_code == 404
    assert b"Globex secret" not in response.content


def test_only_admins_change_email_templates(acme: TenantSetup) -> None:
    """The services check the actor themselves, whatever page or API calls them."""
    with tenant_context(acme.id):
        agent = make_member(acme.tenant)
        with pytest.raises(PermissionDenied):
            templates.save_template(kind="layout", department=None, actor=agent, footer="x")
        with pytest.raises(PermissionDenied):
            templates.reset_template(kind="layout", department=None, actor=agent)
        templates.save_template(kind="layout", department=None, actor=acme.admin, footer="ok")


def test_a_batch_starting_with_a_cold_cache_reads_the_configuration_once(
    tenant: TenantSetup, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    """An inbound batch remembers what it read, not the cache's miss: its hundred
    acknowledgements do not read the wordings and the workspace settings a hundred times."""
    cache.delete_many([configuration._cache_key(), templates._stored_wordings_key()])
    with batching.answers_remembered():
        configuration.priority_labels()
        templates.effective_template("acknowledgement", None, language="en")
        with django_assert_num_queries(0):
            for _ in range(3):
                configuration.priority_labels()
                templates.effective_template("acknowledgement", None, language="en")
    assert isinstance(cache.get(configuration._cache_key()), configuration.Workspace)
    assert isinstance(cache.get(templates._stored_wordings_key()), dict)
