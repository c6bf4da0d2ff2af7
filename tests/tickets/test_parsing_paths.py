"""Issue 17, point 3: the fast path of parse_email (a compat32 parse, whose headers that
need it are read with the modern policy's header parser) reads every mail exactly as the
full modern-policy parse does: the same routing and threading headers, sender (the
contact), subject, text, HTML and attachments, on every mail corpus of the test suite, on
the benchmark's generated mail (non-UTF-8 charsets, encoded words, 8-bit headers,
attachments, HTML-only) and on the header cases below (RFC 2047 in every header we read,
common 8-bit charsets, broken encoded words, comments in addresses)."""

from __future__ import annotations

import base64
import dataclasses
from pathlib import Path

import pytest

from bench import inbound as bench_inbound
from tickets.mail_in import parsing

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CORPUS = sorted(FIXTURES.rglob("*.eml"))


def _generated() -> list[bytes]:
    specs = bench_inbound.generate(400, seed=11, namespace="paths", gap=20, window=200)
    return [bench_inbound.render(spec, ticket=(123, "abc123def456"))[0] for spec in specs]


GENERATED = _generated()


def _fields(parsed: parsing.ParsedEmail) -> dict[str, object]:
    return dataclasses.asdict(parsed)


def _same(raw: bytes) -> bool:
    """Asserts both parses agree; returns whether the fast path took it."""
    fast = parsing.parse_email(raw)
    full = parsing.parse_email_modern(raw)
    assert _fields(fast) == _fields(full)
    # What the pipeline derives from them: the thread, the recipients, the machine check.
    assert fast.thread_ids == full.thread_ids
    assert fast.header_recipients == full.header_recipients
    assert fast.is_automated == full.is_automated
    try:
        from email import policy
        from email.parser import BytesParser

        message = BytesParser(policy=policy.compat32).parsebytes(raw)
    except Exception:
        return False
    return not parsing.needs_modern_policy(message)


def test_the_corpora_are_all_there() -> None:
    assert len(CORPUS) >= 190  # tests/fixtures/email and tests/fixtures/quotes


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_the_fast_path_reads_each_corpus_mail_as_the_full_parse(path: Path) -> None:
    _same(path.read_bytes())


def test_the_fast_path_reads_generated_mail_as_the_full_parse_and_takes_all_of_it() -> None:
    fast = sum(_same(raw) for raw in GENERATED)
    # Encoded-word and 8-bit names and subjects take it too; the generator writes no
    # encoded attachment names, the one thing that still takes the full parse.
    assert fast == len(GENERATED)


def _mail(headers: bytes, body: bytes = b"Hello.\r\n") -> bytes:
    return (
        b"Message-ID: <case@example.test>\r\nTo: support@acme.test\r\n"
        + headers
        + b"\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        + body
    )


# Headers `_read` reads, as clients send them: each must take the fast path and read as the
# full parse reads it.
HEADER_CASES = {
    "q utf-8 name": b"From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <j@example.test>",
    "b iso-8859-1 subject": b"From: a@example.test\r\nSubject: =?iso-8859-1?b?U2Now7Zu?=",
    "windows-1252 quotes": b"From: a@example.test\r\nSubject: =?windows-1252?q?=93Hi=94_=80?=",
    "shift_jis subject": "From: a@example.test\r\nSubject: =?shift_jis?b?{}?=".format(
        base64.b64encode("お問い合わせ".encode("shift_jis")).decode()
    ).encode(),
    "iso-2022-jp name": "From: =?iso-2022-jp?b?{}?= <y@example.test>".format(
        base64.b64encode("山田".encode("iso-2022-jp")).decode()
    ).encode(),
    "koi8-r subject": b"From: a@example.test\r\nSubject: =?koi8-r?b?8NLJ18XU?=",
    "adjacent words, folded": (
        b"From: a@example.test\r\nSubject: =?utf-8?q?Caf=C3=A9?=\r\n =?utf-8?q?_cr=C3=A8me?= and"
        b" =?iso-8859-1?q?br=FBl=E9e?="
    ),
    "encoded word inside quotes": b'From: "=?utf-8?q?Ren=C3=A9e?=" <r@example.test>',
    "encoded word mid-word": b"From: a@example.test\r\nSubject: abc=?utf-8?q?=C3=A9?=def",
    "unknown charset": b"From: a@example.test\r\nSubject: =?x-unknown?q?abc?=",
    "bad base64": b"From: =?utf-8?b?SGVsbG8=!?= <a@example.test>\r\nSubject: =?utf-8?b?***?=",
    "mixed-case q and b": (
        b"From: a@example.test\r\nSubject: =?UTF-8?Q?=C3=A9t=C3=A9?= =?Utf-8?B?w6k=?="
    ),
    "encoded names in To and Cc": (
        b"From: a@example.test\r\nTo: =?utf-8?q?S=C3=B8ren?= <s@acme.test>, b@acme.test\r\n"
        b'Cc: =?iso-8859-1?q?Andr=E9?= <andre@example.test>, "X, Y" <xy@example.test>'
    ),
    "encoded Reply-To and List-Id": (
        b"From: a@example.test\r\nReply-To: =?utf-8?q?R=C3=A9ponse?= <r@example.test>\r\n"
        b"List-Id: =?utf-8?q?Liste_fran=C3=A7aise?= <fr.lists.example.test>"
    ),
    "raw utf-8 name and subject": (
        "From: Zoë Ångström <z@example.test>\r\nSubject: Grüße, ½".encode()
    ),
    "raw latin-1 name and subject": "From: Jürgen <j@example.test>\r\nSubject: Café".encode(
        "latin-1"
    ),
    "raw windows-1252 subject": (
        "From: a@example.test\r\nSubject: \u201cquoted\u201d \u2013 \u20ac5"
    ).encode("cp1252"),
    "raw 8-bit in Cc name": "From: a@example.test\r\nCc: Élodie <e@example.test>".encode("latin-1"),
    "comment in From": b"From: j@example.test (Juergen Mueller)",
    "encoded comment in From": b"From: j@example.test (=?utf-8?q?J=C3=BCrgen?=)",
    "encoded header never read": b"From: a@example.test\r\nThread-Topic: =?utf-8?q?=C3=A9t=C3=A9?=",
    "8-bit header never read": "From: a@example.test\r\nX-Mailer: Outlook Éd.".encode("latin-1"),
    "encoded Auto-Submitted": b"From: a@example.test\r\nAuto-Submitted: =?utf-8?q?auto-replied?=",
}


@pytest.mark.parametrize("headers", HEADER_CASES.values(), ids=HEADER_CASES.keys())
def test_encoded_and_8bit_headers_take_the_fast_path_and_read_as_the_full_parse(
    headers: bytes,
) -> None:
    assert _same(_mail(headers))


# What the compat32 parse may read differently (the MIME structure or an inner part's
# headers): these still take the full parse, and read the same.
STRUCTURE_CASES = {
    "encoded attachment name": (
        b"From: a@example.test\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        b"Content-Type: text/plain\r\n\r\nSee attached.\r\n--b\r\n"
        b'Content-Type: application/pdf; name="=?utf-8?q?Rechnung_M=C3=A4rz.pdf?="\r\n'
        b'Content-Disposition: attachment; filename="=?utf-8?q?Rechnung_M=C3=A4rz.pdf?="\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--b--\r\n"
    ),
    "8-bit attachment name": (
        b"From: a@example.test\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        b"Content-Type: text/plain\r\n\r\nSee attached.\r\n--b\r\n"
        b'Content-Disposition: attachment; filename="Pr\xe9sentation.txt"\r\n\r\nx\r\n--b--\r\n'
    ),
    "encoded top-level Content-Type": (
        b"From: a@example.test\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: text/plain; charset=utf-8; name="=?utf-8?q?=C3=A9?="\r\n\r\nHi.\r\n'
    ),
}


@pytest.mark.parametrize("raw", STRUCTURE_CASES.values(), ids=STRUCTURE_CASES.keys())
def test_encoded_structure_headers_take_the_full_parse_and_read_the_same(raw: bytes) -> None:
    assert not _same(raw)


def test_encoded_words_and_8bit_headers_are_decoded_on_the_fast_path() -> None:
    encoded = b"From: =?utf-8?q?J=C3=BCrgen?= <j@example.test>\r\nSubject: hi\r\n\r\nbody\r\n"
    latin = "From: Jürgen <j@example.test>\r\nSubject: Café\r\n\r\nbody\r\n".encode("latin-1")
    plain = b"From: Juergen <j@example.test>\r\nSubject: hi\r\n\r\nbody\r\n"
    from email import policy
    from email.parser import BytesParser

    def needs(raw: bytes) -> bool:
        return parsing.needs_modern_policy(BytesParser(policy=policy.compat32).parsebytes(raw))

    assert not needs(encoded)
    assert not needs(latin)
    assert not needs(plain)
    assert parsing.parse_email(encoded).from_name == "Jürgen"
    assert parsing.parse_email(latin).from_name == "Jürgen"
    assert parsing.parse_email(latin).subject == "Café"
    for raw in (encoded, latin, plain):
        assert _fields(parsing.parse_email(raw)) == _fields(parsing.parse_email_modern(raw))
