"""A batch's acknowledgements are rendered from the reply template once (ReplyFrames), and
come out byte for byte as rendering the template for each email gives them: differential
tests over departments, languages, tenant, department and mailbox wording, and texts that
urlize and escaping treat specially."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.template.defaultfilters import linebreaksbr, urlize
from pytest_django import DjangoCaptureOnCommitCallbacks, Settings

from departments import services as department_services
from helpdesk.mail import services as mail_services
from helpdesk.mail import tasks as mail_tasks
from helpdesk.mail.models import OutboundEmail
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import Tenant
from tests.conftest import TenantSetup
from tests.tickets.test_inbound import build
from tickets.mail_in import intake
from tickets.mail_in import services as inbound
from tickets.mail_out import services as outbound
from tickets.mail_out import templates
from tickets.models import Message

TRICKY_TEXTS = [
    "",
    "plain words only",
    "See https://example.com/a?b=1&c=2. Or (https://example.org/x), or www.example.net,",
    "Write to help@example.com; or <help@example.com> or 'quoted' \"double\" & more",
    "lines\n\nwith  two  spaces\tand a tab\n  indented https://ex.example/p\n",
    "non\xa0breaking\xa0space www.example.com\u2003em space\x0cform feed",
    "<script>alert('x')</script> [https://example.com/in-brackets] http://x.example:8080/",
    "trailing punctuation https://example.com/path/. and ftp://not.a.link and a@b",
    "Ümlaut https://example.com/ä?ö=ü — long-word-" + "x" * 300,
    "#123 · Acme & Söhne GmbH <acme@example.de>\n\nhttps://acme.localhost/track/.eJx:1a2b/",
]


@pytest.mark.parametrize("text", TRICKY_TEXTS)
def test_the_frames_urlize_word_by_word_as_the_filters_do(text: str) -> None:
    frames = outbound.ReplyFrames(language="en")
    expected = linebreaksbr(urlize(text, autoescape=True), autoescape=False)
    assert frames._urlized(text) == expected
    assert frames._urlized(text) == expected  # again, from the words remembered


def _mail(subject: str, sender: str, to: str, body: str) -> None:
    intake.accept(
        raw=build(subject=subject, sender=sender, to=to, body=body),
        envelope_to=[to],
        envelope_from="",
        channel="test",
        enqueue=False,
    )


def _varied_batch(acme: TenantSetup) -> None:
    """Mail to three mailboxes of two departments: built-in wording, the department's own
    wording, the mailbox's own acknowledgement; tenant layout with special characters."""
    with tenant_context(acme.id):
        billing = department_services.create_department(name="Billing & Co <EU>")
        department_services.create_mailbox(address="billing@acme.localhost", department=billing)
        department_services.create_mailbox(
            address="sales@acme.localhost",
            department=billing,
            auto_ack_subject="Got it: {{ ticket.subject }} (#{{ ticket.number }})",
            auto_ack_body=(
                "Hi {{ contact.name }} <{{ contact.email }}>,\nsee www.example.com/sales, "
                "{{ ticket.tracking_link }}."
            ),
        )
        templates.save_template(
            actor=None,
            kind="layout",
            department=None,
            header="{{ tenant.name }} & friends: https://acme.example/help",
            footer='-- {{ department.name }} · "{{ mailbox.address }}" · #{{ ticket.number }}',
        )
        templates.save_template(
            actor=None,
            kind="acknowledgement",
            department=billing,
            subject="[Billing] {{ ticket.subject }}",
            body=(
                "Dear {{ contact.first_name }},\n\n  we got '{{ ticket.subject }}' "
                "(priority {{ ticket.priority }}, {{ ticket.status }}).\n"
                "Track: {{ ticket.tracking_link }}\nMail {{ mailbox.address }}\t<ok>"
            ),
        )
    senders = [
        "Carla Diaz <carla@example.test>",
        '"Tom & Jerry" <tom@example.test>',
        "www.example.com <web@example.test>",
        "O'Brien <obrien@example.test>",
        "Ünal Öz <uenal@example.test>",
        "nobody@example.test",
    ]
    subjects = [
        "Printer on fire",
        "Re: https://example.com/path?x=<y>&z=1",
        'AW: Ümlaut & <tags> "quoted"',
        "see www.example.org.",
        "mail me at someone@example.com, please",
        "(parenthesised https://example.net/a_(b))",
    ]
    mailboxes = ["support@acme.localhost", "billing@acme.localhost", "sales@acme.localhost"]
    for n in range(18):
        local = senders[n % len(senders)].rpartition("<")[2].rstrip(">").partition("@")[0]
        sender = senders[n % len(senders)].replace(f"{local}@", f"{local}{n}@")
        _mail(subjects[n % len(subjects)], sender, mailboxes[n % 3], TRICKY_TEXTS[n % 10])


@pytest.mark.parametrize("language", ["en", "de"])
def test_a_batchs_acknowledgements_are_those_the_template_renders_one_by_one(
    acme: TenantSetup,
    language: str,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    Tenant.objects.filter(id=acme.id).update(language=language)
    _varied_batch(acme)
    monkeypatch.setattr(mail_tasks.deliver_outbound_emails, "delay", lambda **_: None)
    renders: list[str] = []
    real_render = mail_services.render

    def counted(template: str, context: dict[str, Any]) -> tuple[str, str, str]:
        renders.append(template)
        return real_render(template, context)

    monkeypatch.setattr(mail_services, "render", counted)
    with django_capture_on_commit_callbacks(execute=True), tenant_context(acme.id):
        inbound.process_batch(limit=100, language=language, tenant_name="Acme & Söhne")
    # The frame and the full render of the first email it is checked against, not one
    # render per acknowledgement.
    assert renders == ["reply", "reply"]
    monkeypatch.setattr(mail_services, "render", real_render)
    _assert_as_rendered_one_by_one(acme, language, expected=18)
    with tenant_context(acme.id):
        htmls = list(OutboundEmail.objects.values_list("body_html", flat=True))
    assert all(f'<html lang="{language}">' in html for html in htmls)
    assert all("/track/" in html and '<a href="http' in html for html in htmls)  # links made


def _assert_as_rendered_one_by_one(acme: TenantSetup, language: str, *, expected: int) -> None:
    with tenant_context(acme.id):
        acknowledgements = list(
            Message.objects.filter(is_automatic=True)
            .select_related("ticket__contact", "ticket__department", "ticket__mailbox")
            .select_related("outbound_email")
            .order_by("created_at", "id")
        )
        assert len(acknowledgements) == expected
        bodies = set()
        for message in acknowledgements:
            stored = message.outbound_email
            assert stored is not None
            assert stored.status == "queued"
            earlier = list(
                Message.objects.filter(ticket_id=message.ticket_id, is_automatic=False)
                .order_by("created_at", "id")
                .values_list("email_message_id", flat=True)
            )
            one = outbound.build_email(
                message,
                tenant_name="Acme & Söhne",
                language=language,
                attachments=False,
                earlier=earlier,
            )
            assert (stored.subject, stored.body_text, stored.body_html) == (
                one.subject,
                one.body_text,
                one.body_html,
            )
            assert stored.headers == one.headers
            bodies.add(stored.body_html)
        assert len(bodies) == expected  # each its own (names, numbers, links)


def test_a_template_the_frame_does_not_match_is_rendered_in_full(
    acme: TenantSetup,
    tmp_path: Path,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    """A reply template that filters the text otherwise (no urlize here) would differ from
    the frame: the check against the first email's full render catches it, and every email
    of the batch is rendered in full."""
    emails = tmp_path / "emails"
    emails.mkdir()
    source = Path(django_settings.BASE_DIR) / "templates" / "emails"
    for name in ("reply.subject.txt", "reply.txt"):
        (emails / name).write_text((source / name).read_text())
    (emails / "reply.html").write_text(
        "<p>#{{ ticket.number }}</p>{% if html_body %}{{ html_body|safe }}"
        "{% else %}{{ text|linebreaksbr }}{% endif %}\n"
    )
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}
    ]
    monkeypatch.setattr(mail_tasks.deliver_outbound_emails, "delay", lambda **_: None)
    for n in range(3):
        _mail(f"Request {n}", f"c{n}@example.test", "support@acme.localhost", "Hi")
    with django_capture_on_commit_callbacks(execute=True), tenant_context(acme.id):
        inbound.process_batch(limit=100, language="en", tenant_name="Acme")
    with tenant_context(acme.id):
        htmls = list(OutboundEmail.objects.values_list("body_html", flat=True))
    assert len(htmls) == 3
    for html in htmls:
        assert "/track/" in html
        assert "<a href" not in html  # the link left as text
    _assert_as_rendered_one_by_one(acme, "en", expected=3)
