"""Issue 17, point 3: the header-level fast path of parse_email (compat32, for mail whose
headers are plain ASCII) reads every mail exactly as the full modern-policy parse does: the
same routing and threading headers, sender (the contact), subject, text, HTML and
attachments, on every mail corpus of the test suite and on the benchmark's generated mail
(non-UTF-8 charsets, encoded words, 8-bit headers, attachments, HTML-only)."""

from __future__ import annotations

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


def test_the_fast_path_reads_generated_mail_as_the_full_parse_and_takes_most_of_it() -> None:
    fast = sum(_same(raw) for raw in GENERATED)
    # Encoded-word and 8-bit headers (non-ASCII names and subjects) take the full parse.
    assert fast >= len(GENERATED) // 2


def test_encoded_words_and_8bit_headers_take_the_full_parse() -> None:
    encoded = b"From: =?utf-8?q?J=C3=BCrgen?= <j@example.test>\r\nSubject: hi\r\n\r\nbody\r\n"
    latin = "From: Jürgen <j@example.test>\r\nSubject: hi\r\n\r\nbody\r\n".encode("latin-1")
    plain = b"From: Juergen <j@example.test>\r\nSubject: hi\r\n\r\nbody\r\n"
    from email import policy
    from email.parser import BytesParser

    def needs(raw: bytes) -> bool:
        return parsing.needs_modern_policy(BytesParser(policy=policy.compat32).parsebytes(raw))

    assert needs(encoded)
    assert needs(latin)
    assert not needs(plain)
    assert parsing.parse_email(encoded).from_name == "Jürgen"
    assert parsing.parse_email(latin).from_name == "Jürgen"
    for raw in (encoded, latin, plain):
        assert _fields(parsing.parse_email(raw)) == _fields(parsing.parse_email_modern(raw))
