"""Customer mail in the tenant's language: the built-in wording of every kind of customer
email (acknowledgements by mail and from the web form, status mails, the automatic solve,
the satisfaction request, the layout around an agent's reply) is translated when the email
is composed, through the real mail-out path into the outbox; a tenant's own wording is
sent as written, and every built-in text has its German translation."""

from __future__ import annotations

import gettext
import importlib
import re
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone, translation
from pytest_django import DjangoCaptureOnCommitCallbacks

from departments import services as department_services
from helpdesk.mail.models import OutboundEmail
from helpdesk.tenancy.context import tenant_context
from tests.conftest import TenantSetup
from tests.factories.tickets import make_ticket
from tests.tickets.test_inbound import build, deliver
from tickets.configuration import services as configuration
from tickets.mail_in import intake
from tickets.mail_in import tasks as mail_in_tasks
from tickets.mail_out import templates
from tickets.models import EmailTemplate, Ticket, TicketStatus
from tickets.reminders import services as reminders
from tickets.satisfaction import services as satisfaction
from tickets.ticket import services

GERMAN_CATALOGUE = (
    Path(__file__).resolve().parents[2] / "locale" / "de" / "LC_MESSAGES" / "django.mo"
)
PLACEHOLDER = re.compile(r"\{\{\s*([a-z_.]+)\s*\}\}")


def _speaks(setup: TenantSetup, language: str) -> None:
    """The tenant's language (`Tenant.language`); the tests do not cache tenants."""
    setup.tenant.language = language
    setup.tenant.save(update_fields=["language"])


def _last_email(setup: TenantSetup) -> OutboundEmail:
    with tenant_context(setup.id):
        found = OutboundEmail.objects.order_by("-created_at", "-id").first()
    assert found is not None
    return found


def _ticket(setup: TenantSetup) -> Ticket:
    with tenant_context(setup.id):
        return Ticket.objects.select_related("contact").get()


# --- Acknowledgements ------------------------------------------------------------------


def test_acknowledgement_by_mail_in_german(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    _speaks(acme, "de")
    with django_capture_on_commit_callbacks(execute=True):
        deliver(acme, build(subject="Drucker brennt"))
    number = _ticket(acme).number
    sent = mail.outbox[-1]  # the real send, from the outbox
    assert sent.subject == f"AW: Drucker brennt [#{number}]"
    assert isinstance(sent.body, str)
    assert sent.body.startswith("Hallo Carla,\n\nvielen Dank für Ihre Nachricht an Acme.")
    assert f"Anfrage #{number} eröffnet; wir melden uns in Kürze bei Ihnen." in sent.body
    assert re.search(
        r"Hier können Sie die Anfrage verfolgen: http://acme\.localhost/track/", sent.body
    )
    assert sent.body.rstrip().endswith(
        f"Acme · Anfrage #{number}\nSie können direkt auf diese E-Mail antworten."
    )
    assert "{{" not in sent.body
    assert '<html lang="de">' in str(sent.alternatives[0][0])  # type: ignore[attr-defined]


def test_acknowledgement_by_mail_stays_english_for_an_english_tenant(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        deliver(acme, build())
    number = _ticket(acme).number
    sent = mail.outbox[-1]
    assert sent.subject == f"Re: Printer on fire [#{number}]"
    assert isinstance(sent.body, str)
    assert sent.body.startswith("Hello Carla,\n\nthank you for writing to Acme.")
    assert f"Acme · Request #{number}\nReply to this email to answer." in sent.body


def test_acknowledgements_of_a_drained_batch_in_german(acme: TenantSetup) -> None:
    """The batched inbound path (several mails per transaction) composes them alike."""
    _speaks(acme, "de")
    for subject in ("Erste Frage", "Zweite Frage"):
        accepted = intake.accept(
            raw=build(subject=subject), envelope_to=[], envelope_from="", channel="test"
        )
        assert accepted is not None
    assert mail_in_tasks.drain_inbound_emails.apply(kwargs={"tenant_id": str(acme.id)}).get() == 2
    with tenant_context(acme.id):
        emails = list(OutboundEmail.objects.order_by("subject"))
    assert [email.subject.split(" [#")[0] for email in emails] == [
        "AW: Erste Frage",
        "AW: Zweite Frage",
    ]
    for email in emails:
        assert email.body_text.startswith("Hallo Carla,\n\nvielen Dank für Ihre Nachricht")


def test_the_customers_own_reply_prefix_is_not_doubled_in_german(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    _speaks(acme, "de")
    with django_capture_on_commit_callbacks(execute=True):
        deliver(acme, build(subject="AW: Re: Rechnung"))
    assert mail.outbox[-1].subject == f"AW: Rechnung [#{_ticket(acme).number}]"


def test_web_request_acknowledgement_in_german(acme: TenantSetup) -> None:
    _speaks(acme, "de")
    form = {
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "subject": "Drucker brennt",
        "message": "Schon wieder.",
        "website": "",
    }
    assert acme.client().post("/help/request/", form).status_code in {200, 302}
    sent = _last_email(acme)
    number = _ticket(acme).number
    assert sent.subject == f"AW: Drucker brennt [#{number}]"
    assert sent.body_text.startswith("Hallo Ada,\n\nvielen Dank für Ihre Nachricht an Acme.")
    assert "Hier können Sie die Anfrage verfolgen: http://acme.localhost/track/" in (sent.body_text)
    assert "Request #" not in sent.body_text


# --- Status mails, the automatic solve, the survey, the layout of replies ---------------


@pytest.mark.parametrize(
    ("language", "status", "subject", "opening"),
    [
        (
            "de",
            TicketStatus.WAITING,
            "Wir warten auf Ihre Antwort [#{n}]",
            "Hallo Carla,\n\num Ihre Anfrage #{n} (Drucker brennt) weiter bearbeiten zu können",
        ),
        (
            "de",
            TicketStatus.SOLVED,
            "Ihre Anfrage ist gelöst [#{n}]",
            "Hallo Carla,\n\nwir haben Ihre Anfrage #{n} (Drucker brennt) als gelöst markiert.",
        ),
        (
            "en",
            TicketStatus.WAITING,
            "We are waiting for your answer [#{n}]",
            "Hello Carla,\n\nwe need a little more information to go on with request #{n}",
        ),
        (
            "en",
            TicketStatus.SOLVED,
            "Your request is solved [#{n}]",
            "Hello Carla,\n\nwe marked request #{n} (Drucker brennt) as solved.",
        ),
    ],
)
def test_status_mails_in_the_tenants_language(
    acme: TenantSetup,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
    language: str,
    status: str,
    subject: str,
    opening: str,
) -> None:
    _speaks(acme, language)
    deliver(acme, build(subject="Drucker brennt"))
    ticket = _ticket(acme)
    with django_capture_on_commit_callbacks(execute=True), tenant_context(acme.id):
        services.update_ticket(ticket=ticket, actor=acme.admin, status=status)
    sent = mail.outbox[-1]
    assert sent.subject == subject.format(n=ticket.number)
    assert isinstance(sent.body, str)
    assert sent.body.startswith(opening.format(n=ticket.number))
    footer = "Anfrage" if language == "de" else "Request"
    assert f"Acme · {footer} #{ticket.number}" in sent.body


def test_the_automatic_solve_tells_the_customer_in_german(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    _speaks(acme, "de")
    with tenant_context(acme.id):
        ticket = make_ticket(subject="Alt")
        services.change_status(ticket=ticket, status=TicketStatus.WAITING, actor=acme.admin)
        Ticket.objects.filter(id=ticket.id).update(
            last_message_at=timezone.now() - timedelta(days=8)
        )
        with django_capture_on_commit_callbacks(execute=True):
            configuration.update_settings(auto_solve_waiting_days=7)
        assert reminders.solve_stale_waiting() == 1
    sent = _last_email(acme)
    assert sent.subject == f"Ihre Anfrage ist gelöst [#{ticket.number}]"
    assert f"wir haben Ihre Anfrage #{ticket.number} (Alt) als gelöst markiert." in (sent.body_text)


def test_satisfaction_request_in_german(acme: TenantSetup) -> None:
    _speaks(acme, "de")
    with tenant_context(acme.id):
        ticket = make_ticket(subject="Drucker brennt")
        services.change_status(ticket=ticket, status="solved", actor=None)
        assert satisfaction.send_due_surveys(now=timezone.now() + timedelta(days=2)) == 1
    sent = _last_email(acme)
    assert sent.subject == f"Wie zufrieden waren Sie mit uns? [#{ticket.number}]"
    body = sent.body_text
    assert f"wie zufrieden sind Sie mit unserer Hilfe bei Ihrer Anfrage #{ticket.number}" in body
    assert re.search(
        r"Gut, ich bin zufrieden: http://acme\.localhost/satisfaction/\S+score=good", body
    )
    assert re.search(r"Okay, es war in Ordnung: http://\S+score=okay", body)
    assert re.search(r"Schlecht, ich bin unzufrieden: http://\S+score=bad", body)
    assert "{{" not in body


def test_an_agents_reply_sits_in_the_german_layout(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    _speaks(acme, "de")
    deliver(acme, build())
    ticket = _ticket(acme)
    with django_capture_on_commit_callbacks(execute=True), tenant_context(acme.id):
        services.add_message(ticket=ticket, kind="reply", body="Erledigt.", actor=acme.admin)
    body = mail.outbox[-1].body
    assert isinstance(body, str)
    assert body.startswith("Erledigt.")
    assert f"Acme · Anfrage #{ticket.number}\nSie können direkt auf diese E-Mail antworten." in body


# --- A tenant's own wording --------------------------------------------------------------


def test_a_german_tenants_own_wording_is_sent_as_written(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    """Customised templates are not translated, whatever the language: English wording
    of a German tenant stays English, and its placeholders are filled."""
    _speaks(acme, "de")
    with tenant_context(acme.id):
        templates.save_template(
            actor=None,
            kind="status_solved",
            department=None,
            subject="Done [#{{ ticket.number }}]",
            body="All done, {{ contact.first_name }}.",
        )
        templates.save_template(actor=None, kind="layout", department=None, footer="-- Acme")
    deliver(acme, build())
    ticket = _ticket(acme)
    with django_capture_on_commit_callbacks(execute=True), tenant_context(acme.id):
        services.update_ticket(ticket=ticket, actor=acme.admin, status="solved")
    sent = mail.outbox[-1]
    assert sent.subject == f"Done [#{ticket.number}]"
    assert isinstance(sent.body, str)
    assert sent.body.strip() == "All done, Carla.\n\n-- Acme"


def test_a_customised_subject_keeps_the_built_in_body_in_german(acme: TenantSetup) -> None:
    """Field by field: an empty field falls through to the built-in wording, translated."""
    _speaks(acme, "de")
    with tenant_context(acme.id):
        templates.save_template(
            actor=None, kind="status_waiting", department=None, subject="Rückfrage"
        )
        wording = templates.effective_template("status_waiting", None)
    assert wording.subject == "Rückfrage"
    assert wording.body.startswith("Hallo {{ contact.first_name }},")


def test_a_mailboxs_own_acknowledgement_is_sent_as_written(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    _speaks(acme, "de")
    with tenant_context(acme.id):
        department_services.update_mailbox(
            mailbox=acme.mailbox,
            actor=acme.admin,
            auto_ack_body="Thanks {{ contact.first_name }}, we got #{{ ticket.number }}.",
        )
    with django_capture_on_commit_callbacks(execute=True):
        deliver(acme, build())
    number = _ticket(acme).number
    sent = mail.outbox[-1]
    assert sent.subject == f"AW: Printer on fire [#{number}]"  # the subject is built in
    assert isinstance(sent.body, str)
    assert sent.body.startswith(f"Thanks Carla, we got #{number}.\n\nAcme · Anfrage #{number}")


@pytest.mark.parametrize("language", ["en", "de"])
def test_built_in_wording_saved_unchanged_keeps_following_the_language(
    acme: TenantSetup, language: str
) -> None:
    """The editor starts from the built-in wording in the tenant's language; saving it
    unchanged (line endings as a browser sends them) stores nothing of its own, so a
    tenant that switches language gets the other translation."""
    _speaks(acme, language)
    with tenant_context(acme.id):
        shown = templates.effective_template("status_solved", None)
        saved = templates.save_template(
            actor=None,
            kind="status_solved",
            department=None,
            subject=shown.subject,
            body=shown.body.replace("\n", "\r\n"),
        )
        assert (saved.subject, saved.body) == ("", "")
        _speaks(acme, "en" if language == "de" else "de")
        flipped = templates.effective_template("status_solved", None)
    assert flipped.subject != shown.subject


def test_a_mailbox_form_saved_with_the_german_wording_follows_the_template(
    acme: TenantSetup,
) -> None:
    _speaks(acme, "de")
    german = templates.built_in("acknowledgement", "body", "de")
    with tenant_context(acme.id):
        mailbox = department_services.update_mailbox(
            mailbox=acme.mailbox,
            actor=acme.admin,
            auto_ack_subject=templates.built_in("acknowledgement", "subject", "de"),
            auto_ack_body=german.replace("\n", "\r\n"),
        )
    assert (mailbox.auto_ack_subject, mailbox.auto_ack_body) == ("", "")


def test_another_tenants_language_is_not_used(
    acme: TenantSetup,
    globex: TenantSetup,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    _speaks(globex, "de")
    with django_capture_on_commit_callbacks(execute=True):
        deliver(acme, build())
        deliver(globex, build(to="support@globex.localhost"))
    subjects = sorted(str(sent.subject)[:3] for sent in mail.outbox)
    assert subjects == ["AW:", "Re:"]


# --- The German catalogue ----------------------------------------------------------------


def _customer_mail_sources() -> list[str]:
    return [
        text
        for kind in templates.DEFAULTS.values()
        for text in kind.values()
        if text and text not in templates.UNTRANSLATED
    ]


def test_every_built_in_customer_text_has_its_german_translation() -> None:
    with GERMAN_CATALOGUE.open("rb") as handle:
        catalogue = gettext.GNUTranslations(handle)._catalog  # type: ignore[attr-defined]
    sources = [
        *_customer_mail_sources(),
        "We received your message and opened request #%(number)s.",
        "We received your request #%(number)s.",
        "Follow your request and answer it here: %(link)s",
    ]
    assert len(sources) == 12
    for source in sources:
        german = catalogue.get(source)
        assert german, f"no German for {source!r}"
        assert german != source
        # Every placeholder survives the translation, and nothing else is added.
        assert sorted(PLACEHOLDER.findall(german)) == sorted(PLACEHOLDER.findall(source))
        assert sorted(re.findall(r"%\(\w+\)s", german)) == sorted(re.findall(r"%\(\w+\)s", source))
        assert german.endswith("\n") == source.endswith("\n")


def test_translations_are_made_when_composing_not_at_import() -> None:
    """The built-in wording stays English source text; the language is the caller's."""
    with translation.override("de"):
        assert templates.DEFAULTS["status_solved"]["subject"].startswith("Your request")
    assert templates.built_in("status_solved", "subject", "de").startswith("Ihre Anfrage")
    assert templates.built_in("status_solved", "subject", "en").startswith("Your request")
    assert templates.built_in("layout", "header", "de") == ""
    assert templates.built_in("reply", "body", "de") == "{{ reply.body }}\n\n{{ agent.signature }}"


# --- Rows saved with the English built-in wording before ----------------------------------


def test_the_migration_empties_fields_still_holding_the_english_wording(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    migration = importlib.import_module("tickets.migrations.0033_email_templates_follow_built_in")
    assert {
        (kind, name): text
        for kind, fields in templates.DEFAULTS.items()
        for name, text in fields.items()
        if text and text not in templates.UNTRANSLATED
    } == migration.BUILT_IN
    english = templates.DEFAULTS["status_solved"]
    with tenant_context(acme.id):
        billing = department_services.create_department(name="Billing")
        sales = department_services.create_department(name="Sales")
        EmailTemplate.objects.create(
            kind="status_solved",
            subject=english["subject"],
            body=english["body"].replace("\n", "\r\n") + "\n",  # as a browser posted it
        )
        EmailTemplate.objects.create(
            kind="status_waiting", subject="Our own subject", body="Our own body"
        )
        # The tenant's own waiting subject: a department's copy of the built-in one must
        # keep overriding it; its body (the tenant has none) follows the built-in wording.
        EmailTemplate.objects.create(
            kind="status_waiting",
            department=billing,
            subject=templates.DEFAULTS["status_waiting"]["subject"],
        )
        EmailTemplate.objects.create(
            kind="status_solved", department=sales, body=english["body"], subject="Sales"
        )
    with tenant_context(globex.id):
        EmailTemplate.objects.create(kind="layout", footer=templates.DEFAULTS["layout"]["footer"])
    migration.follow_the_built_in_wording(None, SimpleNamespace(connection=connection))
    with tenant_context(acme.id):
        rows = {
            (row.kind, row.department_id): (row.subject, row.body)
            for row in EmailTemplate.objects.all()
        }
    assert rows == {
        ("status_solved", None): ("", ""),
        ("status_waiting", None): ("Our own subject", "Our own body"),
        ("status_waiting", billing.id): (templates.DEFAULTS["status_waiting"]["subject"], ""),
        ("status_solved", sales.id): ("Sales", ""),
    }
    with tenant_context(globex.id):
        assert EmailTemplate.objects.get().footer == ""


def test_a_rules_reply_is_written_as_the_canned_response_inside_the_german_layout(
    acme: TenantSetup,
) -> None:
    from automation import services as automation_services
    from automation.models import CannedResponseScope
    from automation.rules import engine
    from automation.rules import services as rule_services

    _speaks(acme, "de")
    with tenant_context(acme.id):
        canned = automation_services.create_canned_response(
            title="Weekend",
            body="Hello {{ contact.first_name }}, we are closed until Monday.",
            scope=CannedResponseScope.TENANT,
            actor=acme.admin,
        )
        rule_services.create_rule(
            actor=acme.admin,
            name="Weekend",
            actions=[{"action": "reply_with_template", "value": str(canned.id)}],
        )
        ticket = make_ticket(subject="Drucker brennt")
        engine.run_rules(trigger="ticket_created", ticket_ids=[ticket.id])
    sent = _last_email(acme)
    assert sent.subject == f"AW: Drucker brennt [#{ticket.number}]"
    assert sent.body_text.startswith("Hello Customer")  # the canned response as written
    assert f"Acme · Anfrage #{ticket.number}" in sent.body_text


def test_the_templates_api_shows_the_built_in_wording_in_the_tenants_language(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    _speaks(acme, "de")
    api = acme.api_client()
    shown = api.get("/api/v1/email-templates/status_solved/").json()
    assert shown["subject"] == "Ihre Anfrage ist gelöst [#{{ ticket.number }}]"
    assert shown["custom"] is False
    saved = api.put(
        "/api/v1/email-templates/status_solved/",
        {"subject": "Gelöst: {{ ticket.subject }}", "body": shown["body"]},
        content_type="application/json",
    ).json()
    assert saved["subject"] == "Gelöst: {{ ticket.subject }}"
    assert saved["body"] == shown["body"]  # still the built-in wording, not stored
    with tenant_context(acme.id):
        assert EmailTemplate.objects.get(kind="status_solved").body == ""
    # The English tenant next door keeps English, and does not see the German one's wording.
    other = globex.api_client().get("/api/v1/email-templates/status_solved/").json()
    assert other["subject"] == "Your request is solved [#{{ ticket.number }}]"
    assert other["custom"] is False
