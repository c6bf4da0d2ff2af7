"""Quote separation through the real inbound path and on the ticket page: the new part is the
message body, the quoted history and signatures are kept, collapsed under it."""

from __future__ import annotations

import html
from pathlib import Path
from uuid import UUID

import pytest

from helpdesk.tenancy.context import tenant_context
from tests.conftest import TenantSetup
from tickets.mail_in import intake
from tickets.mail_in import services as inbound
from tickets.models import InboundEmailStatus, Message

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "quotes"
MAILBOX = "support@acme.localhost"


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: object, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"  # type: ignore[attr-defined]


def deliver(setup: TenantSetup, sample: str) -> Message:
    """One corpus mail through intake and processing, as the SMTP channel runs them."""
    accepted = intake.accept(
        raw=(CORPUS / f"{sample}.eml").read_bytes(),
        envelope_to=[MAILBOX],
        envelope_from="",
        channel="test",
        enqueue=False,
    )
    assert accepted is not None
    with tenant_context(setup.id):
        email = inbound.process_inbound_email(email_id=UUID(accepted.email_id))
        assert email.status == InboundEmailStatus.PROCESSED, email.reason
        assert email.ticket_message is not None
        return Message.objects.select_related("ticket").get(id=email.ticket_message.id)


def expected(sample: str) -> str:
    return (CORPUS / f"{sample}.txt").read_text(encoding="utf-8").strip()


def test_the_html_structure_reaches_the_message(acme: TenantSetup) -> None:
    # Outlook on the web: only the HTML marks the signature (#Signature).
    message = deliver(acme, "owa/en-signature")
    assert message.body_text == expected("owa/en-signature")
    assert message.quoted_text.startswith("Tom Baker\nNorthwind Ltd.")
    assert "please update the app to version 4.2" in message.quoted_text


def test_inline_answers_are_the_body_and_the_rest_is_quoted(acme: TenantSetup) -> None:
    message = deliver(acme, "gmail/en-inline")
    assert message.body_text == expected("gmail/en-inline")
    assert "> Which browser do you use?\n>\n\nFirefox 128 on Windows 11." in message.body_text
    assert message.quoted_text == "> Best regards,\n> Ana\n>"


def test_the_ticket_page_shows_the_new_part_and_keeps_the_quote_collapsed(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    message = deliver(acme, "thunderbird/de-reply")
    page = acme.client(acme.admin).get(f"/tickets/{message.ticket.number}/")
    assert page.status_code == 200
    content = page.content.decode()
    body = content.split(f'id="message-{message.id}"', 1)[1].split("</article>", 1)[0]
    visible, collapsed = body.split('<details class="quoted">', 1)
    assert html.escape("der Export bricht nach dem Update immer noch mit Fehler 504 ab.") in visible
    assert "Am 05.03.25 um 17:40 schrieb Acme Support:" in collapsed
    assert "bitte aktualisieren Sie die App auf Version 4.2" in collapsed
    assert "bitte aktualisieren Sie die App" not in visible
    # Another tenant's host knows no such ticket.
    other = globex.client(globex.admin).get(f"/tickets/{message.ticket.number}/")
    assert other.status_code == 404
