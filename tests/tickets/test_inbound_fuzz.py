"""Property-based fuzzing of inbound mail: the parser never raises, whatever the bytes, and
the whole pipeline (intake, then processing) always ends processed, or rejected or failed
with a reason.

The generated messages are built as bytes by hand, not with `email.message`, so they can be
as wrong as real mail: raw 8-bit and control characters in headers, broken encoded words,
unknown charsets and transfer encodings, missing or wrong boundaries, nested messages.
"""

from __future__ import annotations

import base64
import quopri
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import UUID

import pytest
from hypothesis import (
    HealthCheck,
    currently_in_test_context,
    event,
    example,
    given,
    settings,
)
from hypothesis import strategies as st

from helpdesk.tenancy.context import tenant_context
from tickets.mail_in import intake
from tickets.mail_in import services as inbound
from tickets.mail_in.parsing import ParsedEmail, parse_email
from tickets.models import InboundEmail, InboundEmailStatus, Message

if TYPE_CHECKING:
    from tests.conftest import TenantSetup

MAILBOX = "support@acme.localhost"
CORPUS = sorted((Path(__file__).resolve().parents[1] / "fixtures" / "email").glob("*.eml"))

CHARSETS = [
    "utf-8",
    "UTF-8",
    "us-ascii",
    "iso-8859-1",
    "windows-1252",
    "koi8-r",
    "shift_jis",
    "iso-2022-jp",
    "gb2312",
    "big5",
    "utf-16",
    "utf-7",
    "x-unknown",
    "unknown-8bit",
    "",
    '"',
    "utf-8\x00",
    "ütf-8",
]
TRANSFER_ENCODINGS = [
    "",
    "7bit",
    "8bit",
    "binary",
    "base64",
    "quoted-printable",
    "BASE64 ",
    "x-uuencode",
    "x-gzip64",
    "quoted-printable; junk",
]
LEAF_TYPES = [
    "text/plain",
    "text/html",
    "text/calendar; method=REQUEST",
    "application/octet-stream",
    "application/ms-tnef",
    "image/png",
    "message/rfc822",
    "message/delivery-status",
    "text/rfc822-headers",
    "multipart/mixed",
    "text",
    "",
    "/",
]
MULTIPART_TYPES = [
    "mixed",
    "alternative",
    "related",
    "signed",
    "report; report-type=delivery-status",
]
HEADER_NAMES = [
    "From",
    "To",
    "Cc",
    "Reply-To",
    "Subject",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Date",
    "Delivered-To",
    "X-Original-To",
    "Auto-Submitted",
    "Precedence",
    "List-Id",
    "X-Autoreply",
    "Content-Type",
    "Content-Transfer-Encoding",
    "Content-Disposition",
    "MIME-Version",
]

# Any character, control characters and non-ASCII included (st.text never makes surrogates).
any_text = st.text(max_size=80)
header_name = st.one_of(
    st.sampled_from(HEADER_NAMES),
    st.text(st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=":"), min_size=1),
    st.text(min_size=1, max_size=20),
)


@st.composite
def encoded_word(draw: st.DrawFn) -> str:
    """An RFC 2047 encoded word, well formed or not."""
    charset = draw(st.sampled_from(CHARSETS))
    text = draw(any_text)
    if draw(st.booleans()):
        payload = base64.b64encode(text.encode("utf-8")).decode()
        payload = draw(st.sampled_from([payload, payload[:-1], payload + "!", "%%%"]))
        kind = draw(st.sampled_from(["B", "b", "X"]))
    else:
        payload = quopri.encodestring(text.encode("utf-8"), header=True).decode()
        kind = draw(st.sampled_from(["Q", "q"]))
    end = draw(st.sampled_from(["?=", "?=", "", "?"]))
    return f"=?{charset}?{kind}?{payload}{end}"


@st.composite
def header_value(draw: st.DrawFn) -> bytes:
    """A header value: plain, raw 8-bit in some charset, encoded words, an address list, a
    Message-ID, or any bytes."""
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return draw(any_text).encode("utf-8")
    if kind == 1:
        charset = draw(st.sampled_from(["iso-8859-1", "koi8-r", "shift_jis", "cp1252"]))
        return draw(any_text).encode(charset, errors="replace")
    if kind == 2:
        words = draw(st.lists(st.one_of(encoded_word(), any_text), min_size=1, max_size=4))
        return " ".join(words).encode("utf-8")
    if kind == 3:
        name = draw(st.one_of(any_text, encoded_word()))
        local = draw(st.sampled_from(["carla", "", "a b", "Ü", '"q"', "x\x00y"]))
        domain = draw(st.sampled_from(["example.test", "acme.localhost", "", "ex ample", "é.test"]))
        return f"{name} <{local}@{domain}>, {draw(any_text)}".encode()
    if kind == 4:
        return b"<" + draw(st.binary(max_size=40)) + b"@" + draw(any_text).encode() + b">"
    return draw(st.binary(max_size=120))


@st.composite
def header_lines(draw: st.DrawFn, names: list[str] | None = None) -> bytes:
    lines = []
    for name in draw(st.lists(header_name, max_size=8)) + (names or []):
        value = draw(header_value())
        folded = draw(st.sampled_from([b"", b"\r\n\t", b"\n ", b"\r\n"]))
        lines.append(name.encode("utf-8", errors="replace") + b": " + folded + value)
    eol = draw(st.sampled_from([b"\r\n", b"\n", b"\r"]))
    return eol.join(lines) + eol


@st.composite
def body_bytes(draw: st.DrawFn, charset: str, transfer: str) -> bytes:
    if draw(st.booleans()):
        data = draw(st.binary(max_size=300))
    else:
        codec = charset.strip('"\x00') or "utf-8"
        try:
            data = draw(st.text(max_size=300)).encode(codec, errors="replace")
        except (LookupError, UnicodeError):
            data = draw(st.text(max_size=300)).encode("utf-8")
    encode = draw(st.booleans())  # sometimes declare an encoding and not apply it
    if encode and transfer.strip().lower() == "base64":
        data = base64.encodebytes(data)
    elif encode and transfer.strip().lower() == "quoted-printable":
        data = quopri.encodestring(data)
    return data


@st.composite
def leaf_part(draw: st.DrawFn) -> bytes:
    content_type = draw(st.sampled_from(LEAF_TYPES))
    charset = draw(st.sampled_from(CHARSETS))
    transfer = draw(st.sampled_from(TRANSFER_ENCODINGS))
    headers = [f'Content-Type: {content_type}; charset="{charset}"'.encode(errors="replace")]
    if transfer:
        headers.append(f"Content-Transfer-Encoding: {transfer}".encode())
    if draw(st.booleans()):
        filename = draw(st.one_of(any_text, encoded_word()))
        disposition = draw(st.sampled_from(["attachment", "inline", "", "weird"]))
        star = draw(st.sampled_from(["filename", "filename*", "name"]))
        headers.append(f'Content-Disposition: {disposition}; {star}="{filename}"'.encode())
    if draw(st.booleans()):
        headers.append(b"Content-ID: <" + draw(header_value()) + b">")
    if content_type == "message/rfc822" and draw(st.booleans()):
        body = draw(header_lines(["From", "Message-ID"])) + b"\r\n" + draw(st.binary(max_size=80))
    else:
        body = draw(body_bytes(charset, transfer))
    return b"\r\n".join(headers) + b"\r\n\r\n" + body


def multipart(children: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    @st.composite
    def build(draw: st.DrawFn) -> bytes:
        subtype = draw(st.sampled_from(MULTIPART_TYPES))
        boundary = draw(st.sampled_from(["b1", "=_x", "----=_Part_1", "", "a b", "ü"]))
        used = draw(st.sampled_from([boundary, boundary, "other"]))
        parts = draw(st.lists(children, min_size=0, max_size=4))
        declared = f'; boundary="{boundary}"' if draw(st.integers(0, 5)) else ""
        head = f"Content-Type: multipart/{subtype}{declared}\r\n\r\n".encode()
        preamble = draw(st.sampled_from([b"", b"This is a multi-part message in MIME format.\r\n"]))
        body = b"".join(f"--{used}\r\n".encode() + part + b"\r\n" for part in parts)
        closing = draw(st.sampled_from([f"--{used}--\r\n".encode(), b""]))
        return head + preamble + body + closing

    return build()


mime_tree = st.recursive(leaf_part(), multipart, max_leaves=6)


@st.composite
def raw_email(draw: st.DrawFn) -> bytes:
    """A whole message: a sender (usually readable, so processing gets past the sender
    check), maybe a reply to ticket #1, random headers, then a MIME tree."""
    sender = draw(st.one_of(st.just(b"Carla <carla@example.test>"), header_value()))
    reply = draw(st.sampled_from([b"", b"Subject: Re: [#1] still broken\r\n"]))
    names = draw(st.lists(st.sampled_from(["From", "To", "Subject", "Message-ID"]), max_size=4))
    return b"From: " + sender + b"\r\n" + reply + draw(header_lines(names)) + draw(mime_tree)


def assert_storable(parsed: ParsedEmail) -> None:
    """What the parser hands on fits in Postgres text: no NUL, valid UTF-8."""
    texts = [
        parsed.message_id,
        parsed.subject,
        parsed.from_name,
        parsed.from_address,
        parsed.reply_to,
        parsed.text,
        parsed.html,
        parsed.auto_submitted,
        parsed.precedence,
        parsed.list_id,
        *parsed.problems,
        *parsed.in_reply_to,
        *parsed.references,
        *parsed.to,
        *parsed.cc,
        *parsed.delivered_to,
    ]
    for attachment in parsed.attachments:
        texts += [attachment.filename, attachment.content_type, attachment.content_id]
        assert isinstance(attachment.payload, bytes)
    for text in texts:
        assert isinstance(text, str)
        assert "\x00" not in text
        text.encode("utf-8")  # no lone surrogates


@settings(max_examples=400, deadline=None, database=None)
@given(st.binary(max_size=3000))
def test_parser_never_raises_on_arbitrary_bytes(raw: bytes) -> None:
    assert_storable(parse_email(raw))


@settings(max_examples=400, deadline=None, database=None)
@given(raw_email())
def test_parser_never_raises_on_generated_mail(raw: bytes) -> None:
    assert_storable(parse_email(raw))


@settings(max_examples=150, deadline=None, database=None)
@given(st.sampled_from(CORPUS), st.data())
def test_parser_never_raises_on_mutated_corpus_mail(path: Path, data: st.DataObject) -> None:
    raw = bytearray(path.read_bytes())
    for _ in range(data.draw(st.integers(1, 8))):
        if not raw:
            break
        index = data.draw(st.integers(0, len(raw) - 1))
        action = data.draw(st.integers(0, 2))
        if action == 0:
            raw[index] = data.draw(st.integers(0, 255))
        elif action == 1:
            del raw[index : index + data.draw(st.integers(1, 40))]
        else:
            raw[index:index] = data.draw(st.binary(min_size=1, max_size=20))
    assert_storable(parse_email(bytes(raw)))


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: object, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"  # type: ignore[attr-defined]


def run_pipeline(acme: TenantSetup, raw: bytes, envelope_from: str = "") -> InboundEmail:
    """The real intake and processing, as a worker would run them."""
    accepted = intake.accept(
        raw=raw, envelope_to=[MAILBOX], envelope_from=envelope_from, channel="fuzz", enqueue=False
    )
    assert accepted is not None
    with tenant_context(acme.id):
        return inbound.process_inbound_email(email_id=UUID(accepted.email_id))


def assert_settled(acme: TenantSetup, email: InboundEmail) -> None:
    """Processed with a ticket message (or a bounce on its message), else a reason."""
    with tenant_context(acme.id):
        email.refresh_from_db()
        if currently_in_test_context():  # outcome counts for --hypothesis-show-statistics
            event(f"{email.status}: {email.reason[:40]}" if email.reason else email.status)
        assert email.status in {
            InboundEmailStatus.PROCESSED,
            InboundEmailStatus.REJECTED,
            InboundEmailStatus.FAILED,
        }
        if email.status != InboundEmailStatus.PROCESSED:
            assert email.reason.strip()
            return
        assert email.ticket_id is not None
        if email.ticket_message_id is None:  # a bounce recorded on the message it concerns
            assert email.reason.startswith("delivery failure")
            return
        message = Message.objects.get(id=email.ticket_message_id)
        assert message.ticket_id == email.ticket_id
        assert message.body_text.strip()


PIPELINE_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# Inputs that once raised out of the pipeline: NUL and overlong addresses (Postgres refuses
# them) through the parser, NUL in the Message-ID or a recipient through intake.
ONCE_RAISED = {
    "nul_in_body": b"From: a@example.test\r\nMessage-ID: <nb@x.test>\r\n\r\nhel\x00lo\r\n",
    "nul_in_subject": b"From: a@example.test\r\nSubject: a\x00b\r\n\r\nhello\r\n",
    "nul_in_encoded_name": b"From: =?utf-8?q?A=00B?= <a@example.test>\r\n\r\nhello\r\n",
    "overlong_from": b"From: " + b"a" * 300 + b"@example.test\r\n\r\nhello\r\n",
    "overlong_cc": b"From: a@example.test\r\nCc: " + b"c" * 300 + b"@example.test\r\n\r\nhi",
    "nul_in_message_id": b"From: a@example.test\r\nMessage-ID: <a\x00b@x.test>\r\n\r\nhi",
    "nul_in_cc": b"From: a@example.test\r\nCc: x\x00y@example.test\r\n\r\nhello\r\n",
}


@pytest.mark.parametrize("raw", ONCE_RAISED.values(), ids=ONCE_RAISED.keys())
def test_pipeline_settles_inputs_that_once_raised(acme: TenantSetup, raw: bytes) -> None:
    assert_settled(acme, run_pipeline(acme, raw))


@PIPELINE_SETTINGS
@given(raw=raw_email())
@example(raw=ONCE_RAISED["nul_in_body"])
def test_pipeline_settles_every_generated_mail(acme: TenantSetup, raw: bytes) -> None:
    assert_settled(acme, run_pipeline(acme, raw))


@PIPELINE_SETTINGS
@given(raw=st.binary(max_size=2000), envelope_from=st.sampled_from(["", "bob@example.test"]))
def test_pipeline_settles_arbitrary_bytes(
    acme: TenantSetup, raw: bytes, envelope_from: str
) -> None:
    assert_settled(acme, run_pipeline(acme, raw, envelope_from))


def test_overlong_envelope_sender_is_rejected_not_raised(acme: TenantSetup) -> None:
    raw = b"To: support@acme.localhost\r\nMessage-ID: <env@x.test>\r\n\r\nhello\r\n"
    accepted = intake.accept(
        raw=raw,
        envelope_to=[MAILBOX],
        envelope_from="e" * 300 + "@example.test",
        channel="fuzz",
        enqueue=False,
    )
    assert accepted is not None
    with tenant_context(acme.id):
        email = inbound.process_inbound_email(email_id=UUID(accepted.email_id))
    assert_settled(acme, email)
