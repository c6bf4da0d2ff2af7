"""Inbound robustness on a corpus of awkward real-world mail (tests/fixtures/email/*.eml).

Every file goes through the real intake and processing, as a worker would run them, and
ends as a ticket message or as a rejection with a reason, never as an exception. Files that
need more than that (charsets, replies, attachments, hostile HTML, machine mail) get their
own assertions below.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import UUID

import pytest
from django.core import mail
from django.urls import reverse

from helpdesk.tenancy.context import tenant_context
from tickets.mail_in import intake
from tickets.mail_in import services as inbound
from tickets.models import Attachment, InboundEmail, InboundEmailStatus, Message, Ticket

if TYPE_CHECKING:
    from pytest_django import DjangoCaptureOnCommitCallbacks

    from tests.conftest import TenantSetup

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "email"
CORPUS = sorted(FIXTURES.glob("*.eml"))
MAILBOX = "support@acme.localhost"

# Every other file of the corpus must end processed, with a ticket message.
REJECTED = {
    "headers_no_from.eml": "no sender address",
    "dsn_bounce_unknown.eml": "delivery report for a message we did not send",
}

# An attribute named exactly `src` (not `data-remote-src`).
BARE_SRC = re.compile(r"(?<![\w-])src\s*=", re.IGNORECASE)

Deliver = Callable[[str], Message]


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: object, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"  # type: ignore[attr-defined]


def deliver(acme: TenantSetup, name: str) -> InboundEmail:
    """The real intake and processing of one corpus file, as the SMTP channel runs them."""
    raw = (FIXTURES / name).read_bytes()
    accepted = intake.accept(
        raw=raw, envelope_to=[MAILBOX], envelope_from="", channel="test", enqueue=False
    )
    assert accepted is not None
    assert accepted.tenant_id == str(acme.id)
    with tenant_context(acme.id):
        return inbound.process_inbound_email(email_id=UUID(accepted.email_id))


@pytest.fixture
def delivered(acme: TenantSetup) -> Iterator[Deliver]:
    """deliver(name) -> the customer Message it created; the tenant context stays entered."""

    def run(name: str) -> Message:
        email = deliver(acme, name)
        assert email.status == InboundEmailStatus.PROCESSED, email.reason
        assert email.ticket_message is not None
        return Message.objects.select_related("ticket__contact").get(id=email.ticket_message.id)

    with tenant_context(acme.id):
        yield run


def stored_attachments(message: Message) -> list[tuple[str, str, int]]:
    """(filename, content type, size) of each stored attachment, sorted by code point (not
    by the database collation); checks the stored bytes."""
    found = []
    for attachment in message.attachments.all():
        with attachment.file.open("rb") as stored:
            assert len(stored.read()) == attachment.size
        found.append((attachment.filename, attachment.content_type, attachment.size))
    return sorted(found)


def test_corpus_has_the_awkward_cases() -> None:
    assert len(CORPUS) >= 20
    for name in REJECTED:
        assert FIXTURES / name in CORPUS


@pytest.mark.parametrize("path", CORPUS, ids=lambda path: path.name)
def test_corpus_mail_ends_as_a_message_or_a_reasoned_rejection(
    acme: TenantSetup, path: Path
) -> None:
    email = deliver(acme, path.name)
    with tenant_context(acme.id):
        email.refresh_from_db()
        assert email.processed_at is not None
        if path.name in REJECTED:
            assert email.status == InboundEmailStatus.REJECTED
            assert email.reason == REJECTED[path.name]
            assert email.ticket_id is None
            assert not Ticket.objects.exists()
            return
        assert email.status == InboundEmailStatus.PROCESSED, email.reason
        message = email.ticket_message
        assert message is not None
        assert message.ticket_id == email.ticket_id
        assert message.kind == "customer"
        assert message.body_text.strip()
        assert message.ticket.subject.strip()
        assert "\x00" not in message.body_text + message.quoted_text + message.body_html
        for attachment in message.attachments.all():
            assert attachment.filename
            assert attachment.content_type
            assert attachment.size == attachment.file.size


@pytest.mark.parametrize(
    ("name", "subject", "sender", "body"),
    [
        ("charset_iso_8859_1.eml", "Grüße aus München", "Hans Müller", "Schloßstraße 5"),
        (
            "charset_windows_1252.eml",
            "Invoice query",
            "O'Brien, Siobhan",
            # Windows-1252 only: the euro sign, an en dash, curly quotes.
            "The invoice says €1,250 \u2013 but we agreed on “the old price”.\nCould you check? "
            "That\u2019s all.",
        ),
        ("charset_unknown.eml", "Bestellung 4471", "Legacy Gateway User", "Grüße aus Köln!"),
        ("charset_shift_jis.eml", "日本語の問い合わせ", "山田太郎", "日本語でのお問い合わせです。"),
        (
            "charset_koi8_r.eml",
            "Привет, принтер не работает",
            "Иван Петров",
            "Привет!\n\nПринтер в офисе снова не работает.",  # noqa: RUF001 - Cyrillic on purpose
        ),
        (
            "headers_rfc2047.eml",
            "¡Ayúda! La contraseña no funciona",
            "José García",
            "no puedo cambiar la contraseña",
        ),
        (
            "headers_8bit_utf8.eml",
            "Rückfrage zur Rechnung \u2013 Grüße aus Wien",
            "Jürgen Groß",
            "Grüße\nJürgen",
        ),
        (
            "headers_8bit_latin1.eml",
            "Problème de connexion à l'espace client",
            "Hélène Dupré",
            "je n'arrive plus à me connecter",
        ),
    ],
)
def test_charsets_decode_to_the_right_text(
    delivered: Deliver, name: str, subject: str, sender: str, body: str
) -> None:
    message = delivered(name)
    assert message.ticket.subject == subject
    assert message.ticket.contact.name == sender
    assert body in message.body_text
    assert "\ufffd" not in message.ticket.subject + message.ticket.contact.name
    assert "\ufffd" not in message.body_text


def test_broken_encoded_words_keep_what_can_be_read(delivered: Deliver) -> None:
    message = delivered("headers_rfc2047_broken.eml")
    assert message.ticket.subject.startswith("Hello world")
    assert message.ticket.contact.email == "zoe@example.org"
    assert message.ticket.contact.name.startswith("Zoë")


def test_duplicated_headers_use_the_first(delivered: Deliver) -> None:
    message = delivered("headers_duplicated.eml")
    assert message.ticket.subject == "Cannot export report"
    assert message.ticket.contact.email == "alice@example.com"


def test_mail_without_message_id_is_stored_once_and_processed(acme: TenantSetup) -> None:
    email = deliver(acme, "headers_missing_message_id.eml")
    raw = (FIXTURES / "headers_missing_message_id.eml").read_bytes()
    again = intake.accept(
        raw=raw, envelope_to=[MAILBOX], envelope_from="", channel="test", enqueue=False
    )
    assert again is not None
    assert again.created is False
    assert again.email_id == str(email.id)
    with tenant_context(acme.id):
        assert email.ticket_message is not None
        assert email.ticket_message.email_message_id == ""
        assert email.ticket_message.body_text == "/var is at 91%."


def test_outlook_reply_keeps_only_the_new_part(delivered: Deliver) -> None:
    message = delivered("reply_outlook.eml")
    assert message.body_text == (
        "Hi Ana,\n\nThe VPN still drops every ten minutes after the update.\n\nRegards,\nTom"
    )
    assert message.quoted_text.startswith("-----Original Message-----\nFrom: Acme Support")
    assert "please install the latest client" in message.quoted_text
    html = message.body_html
    assert "The VPN still drops every ten minutes" in html
    for leftover in ("<o:p", "[if", "endif", "<!--", "<style", "@font-face", "<xml"):
        assert leftover not in html


def test_apple_mail_reply_keeps_the_new_part_and_its_inline_image(delivered: Deliver) -> None:
    message = delivered("reply_apple_mail.eml")
    assert message.body_text == "Here is a screenshot of the black screen.\n\nMaria"
    assert message.quoted_text.startswith("> On 5 Mar 2025, at 16:20, Acme Support")
    assert "> Could you send us a screenshot?" in message.quoted_text
    image = Attachment.objects.get(message=message)
    assert (image.filename, image.content_type, image.size) == (
        "Screenshot 2025-03-05.png",
        "image/png",
        70,
    )
    assert image.content_id == "F3A1B2C4-5D6E-4F70-8192-A3B4C5D6E7F8"
    assert image.is_inline
    url = reverse("tickets:attachment", args=[image.id])
    assert url == f"/attachments/{image.id}/"
    assert f'src="{url}"' in message.body_html
    assert "cid:" not in message.body_html


def test_gmail_reply_with_a_wrapped_attribution_keeps_only_the_new_part(
    delivered: Deliver,
) -> None:
    message = delivered("reply_gmail.eml")
    assert message.body_text == "Thanks, the refund arrived today."
    assert message.quoted_text.startswith("On Wed, Mar 5, 2025 at 5:40\u202fPM Acme Support")
    assert "> we have issued the refund for order 2291." in message.quoted_text


def test_forward_as_attachment_keeps_the_forwarded_mail_as_an_eml(delivered: Deliver) -> None:
    message = delivered("forward_as_attachment.eml")
    assert message.body_text == "Please handle the attached complaint."
    forwarded = Attachment.objects.get(message=message)
    assert (forwarded.filename, forwarded.content_type) == ("Complaint.eml", "message/rfc822")
    with forwarded.file.open("rb") as stored:
        original = stored.read()
    assert b"Subject: Complaint" in original
    assert b"The parcel arrived broken." in original


def test_inline_forward_keeps_the_forwarded_text_as_history(delivered: Deliver) -> None:
    message = delivered("forward_inline.eml")
    assert message.body_text == "Can you tell me why this failed? My card is valid."
    assert message.quoted_text.startswith("---------- Forwarded message ---------")
    assert "We could not charge your card ending in 4242." in message.quoted_text


def test_calendar_invite_is_kept_as_attachments(delivered: Deliver) -> None:
    message = delivered("calendar_invite.eml")
    assert "Onboarding-Termin für das neue Team." in message.body_text
    types = {attachment.content_type: attachment for attachment in message.attachments.all()}
    assert set(types) == {"text/calendar", "application/ics"}
    assert types["application/ics"].filename == "invite.ics"
    with types["text/calendar"].file.open("rb") as stored:
        assert b"METHOD:REQUEST" in stored.read()


def test_tnef_winmail_dat_is_kept_as_an_attachment(delivered: Deliver) -> None:
    message = delivered("tnef_winmail.eml")
    assert message.body_text == "Please find the quarterly report attached."
    assert stored_attachments(message) == [("winmail.dat", "application/ms-tnef", 354)]
    with message.attachments.get().file.open("rb") as stored:
        assert stored.read(4) == b"\x78\x9f\x3e\x22"  # the TNEF signature


def test_attachments_only_mail_stores_each_file(delivered: Deliver) -> None:
    message = delivered("attachments_only.eml")
    assert message.body_text == "(attachments only)"
    assert stored_attachments(message) == [
        ("Unterschrift Müller.png", "image/png", 70),
        ("scan_0001.pdf", "application/pdf", 125),
    ]


def test_signed_mail_keeps_text_and_signature(delivered: Deliver) -> None:
    message = delivered("smime_signed.eml")
    assert message.body_text == "Please give me access to the reporting module."
    assert stored_attachments(message) == [("smime.p7s", "application/pkcs7-signature", 79)]


def test_empty_body_still_opens_a_ticket(delivered: Deliver) -> None:
    message = delivered("empty_body.eml")
    assert message.ticket.subject == "Call me back please"
    assert message.body_text == "(no text)"


def test_hostile_html_is_defused(delivered: Deliver) -> None:
    message = delivered("html_only_hostile.eml")
    html = message.body_html
    assert "Dear customer, please" in html
    assert "Dear customer, please verify your account." in message.body_text
    for hostile in ("<script", "evil.example.biz", "javascript:", "<iframe", "<form", "<style"):
        assert hostile.lower() not in html.lower()
    for handler in ("onload", "onerror", "onclick", "onmouseover"):
        assert handler not in html.lower()
    assert BARE_SRC.findall(html) == []
    assert 'data-remote-src="https://tracker.example.biz/open.gif?id=123"' in html
    assert '<a href="https://www.example.biz/help"' in html


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("mime_multipart_without_boundary.eml", "My order 5512 never shipped, please check."),
        ("mime_base64_garbage.eml", "Hello, my account is locked."),
        ("mime_unknown_transfer_encoding.eml", "The invoice PDF link in your last mail is broken."),
    ],
)
def test_broken_mime_keeps_the_text(delivered: Deliver, name: str, body: str) -> None:
    message = delivered(name)
    assert message.body_text == body


@pytest.mark.parametrize("name", ["mailing_list.eml", "auto_reply.eml"])
def test_machine_mail_opens_a_ticket_without_acknowledgement(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks, name: str
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        email = deliver(acme, name)
    assert email.status == InboundEmailStatus.PROCESSED
    assert email.ticket_id is not None
    assert mail.outbox == []


def test_bounce_for_a_message_we_did_not_send_is_not_acknowledged(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        email = deliver(acme, "dsn_bounce_unknown.eml")
    assert email.status == InboundEmailStatus.REJECTED
    assert mail.outbox == []


def test_normal_mail_gets_exactly_one_acknowledgement(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        email = deliver(acme, "normal_plain.eml")
    assert email.status == InboundEmailStatus.PROCESSED
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["carla@example.com"]
    assert mail.outbox[0].extra_headers["In-Reply-To"] == "<normal-plain-01@mail.example.com>"
