# ruff: noqa: RUF001 - the generated mail is non-ASCII on purpose (cp1252 punctuation, CJK)
"""Inbound mail benchmark: generated mail through the real task path, one Celery worker.

Phases, on the bench database of `bench.run` (each worker configuration on a fresh one):

1. **Saturation.** 10,000 generated messages (new requests, half of them from an address
   that never wrote before; replies by In-Reply-To, References only, `[#123]` subject tag
   only and plus-address only; attachments; HTML-only; iso-8859-1, windows-1252 and
   shift_jis) go through `intake.accept` from two producer threads, as fast as they can.
   `accept` commits each row and wakes the drain (`tickets.tasks.drain_inbound_emails`,
   once per burst); one `celery worker` (concurrency 2 by default, queues default, email,
   automation, as `make run` starts it) processes them in batches, acknowledgements
   included. Throughput is processed messages over the time from the
   first accept to the last `processed_at`.
2. **Latency at half load.** 1,000 more messages at half the measured throughput, so
   `created_at → processed_at` is the time a message takes, not the time it waited behind
   a backlog the benchmark built on purpose.
3. **Batch SQL.** 300 more messages accepted in this process and processed by
   `process_batch`, 100 at a time, as the drain runs it, counting SQL statements with
   `CaptureQueriesContext` (the first batch, which warms the caches, not counted).
4. **Profile** (not with `--skip-profile`). 200 messages processed in this process through
   the task body (no worker), counting SQL, then 200 more under cProfile.

Every generated mail records the Message-ID of the mail it answers; threading accuracy is
the share of replies whose InboundEmail.ticket is the ticket of that mail. A tag-only or
plus-address-only reply needs its ticket's number or reply token, so it is written when its
turn comes, after the worker has processed the mail it answers (as a customer can only
answer an acknowledgement they received): until then it is held back and the producers go
on with the mail after it (they wait for it only at the end).
"""

from __future__ import annotations

import base64
import collections
import contextlib
import cProfile
import functools
import os
import pstats
import quopri
import random
import re
import resource
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from tickets.mail_in import tasks as mail_in_tasks
from tickets.mail_out import tasks as mail_out_tasks

if TYPE_CHECKING:
    from bench.run import Context

ROOT = Path(__file__).resolve().parents[1]
MESSAGES = 10_000
SEED = 20_250_601
REPLY_SHARE = 0.45
# A reply answers a mail sent at least this many mails earlier (and at most REPLY_WINDOW):
# customers answer after the acknowledgement reached them, never in the same instant.
REPLY_GAP = 300
REPLY_WINDOW = 4_000
SENDERS = 2_500
# Of new requests, the share from an address that never wrote before (a new contact).
NEW_SENDER_SHARE = 0.5
BATCH_SQL_MESSAGES = 300
BATCH_SQL_SIZE = 100
PRODUCER_THREADS = 2
PACED_MESSAGES = 1_000
PACED_SECONDS = 40
PACED_LOAD = 0.5
PROFILE_MESSAGES = 200
FLOOR_TASKS = 5_000
FLOOR_PARTS = ("worker", "redis", "bench process (producers)")
QUEUES = ("default", "email", "automation")
TARGET_MESSAGES_PER_SECOND = 300
SUPPORT = "support@bench.localhost"
REPLY_VIA = {"in-reply-to": 70, "references": 10, "subject-tag": 12, "plus-address": 8}
BODY_FORMATS = {"plain": 55, "alternative": 30, "html-only": 15}
ATTACHMENT_SIZES = {3_000: 40, 12_000: 30, 40_000: 20, 150_000: 10}
STUCK_AFTER_SECONDS = 60.0
CRLF = b"\r\n"

# --- Generated mail ---------------------------------------------------------------------

LOCALES: dict[str, dict[str, Any]] = {
    "en": {
        "charsets": {"utf-8": 1},
        "names": ["Carla Jones", "Dev Patel", "Mia Wong", "Sam O'Neil", "Lee Park", "Ana Silva"],
        "subjects": [
            "Printer on fire",
            "Cannot log in since this morning",
            "Question about invoice {n}",
            "Refund for order {n}",
            "Password reset link expired",
            "Shipping delay on order {n}",
            "API returns 500 on /export",
            "Feature request: dark mode",
            "Account locked after three attempts",
            "Wrong charge on my card",
            "Export to CSV is empty",
            "How do I add a colleague?",
        ],
        "sentences": [
            "Hello, I hope you can help me with this.",
            "Since yesterday the page shows an error when I try to save.",
            "Order {n} was supposed to arrive on Monday but nothing came.",
            "I was charged twice for the same subscription this month.",
            "Could you please check what went wrong and let me know?",
            "I attached a screenshot of the message I get.",
            "We have about twenty people who cannot work right now.",
            "The reset link in your email says it has expired.",
            "I tried another browser and cleared the cache, same result.",
            "Thanks in advance for a quick answer.",
            "Our account number is {n}, in case you need it.",
            "This is the third time I write about this issue.",
        ],
        "attribution": "On {date}, {name} wrote:",
        "reply_prefix": "Re: ",
    },
    "latin": {
        "charsets": {"iso-8859-1": 45, "windows-1252": 35, "utf-8": 20},
        "names": ["Jürgen Müller", "Amélie Dubois", "José Núñez", "Søren Ærø", "Zoë Brandão"],
        "subjects": [
            "Rückerstattung für Bestellung {n}",
            "Problème de connexion",
            "Lieferung verspätet",
            "Dirección de envío incorrecta",
            "Reçu manquant pour la commande {n}",
            "Größe ändern, Bestellung {n}",
        ],
        "sentences": [
            "Guten Tag, leider ist meine Bestellung {n} noch nicht angekommen.",
            "Le colis n'est pas arrivé à temps et je suis très déçu.",
            "¿Podrían ayudarme, por favor? Es bastante urgente.",
            "Die Rechnung enthält einen Fehler beim Betrag.",
            "Je n'arrive plus à me connecter depuis la mise à jour.",
            "Mit freundlichen Grüßen aus München.",
            "Merci d'avance pour votre réponse rapide.",
            "El número de cliente es {n}.",
        ],
        "cp1252_sentences": [
            "The price says “49 €” but I paid 59 € – please check.",
            "I can’t open the file… it says “corrupted”.",
            "Order {n} — still waiting, see the ‘tracking’ page.",
        ],
        "attribution": "Am {date} schrieb {name}:",
        "reply_prefix": "AW: ",
    },
    "ja": {
        "charsets": {"shift_jis": 60, "utf-8": 40},
        "names": ["山田 太郎", "佐藤 花子", "鈴木 一郎", "高橋 美咲"],
        "subjects": [
            "お問い合わせ：注文番号{n}",
            "ログインできません",
            "請求書について",
            "商品が届いていません（{n}）",
        ],
        "sentences": [
            "いつもお世話になっております。",
            "プリンターが動きません。",
            "至急ご確認をお願いいたします。",
            "注文番号{n}の商品がまだ届いておりません。",
            "パスワードの再設定ができません。",
            "よろしくお願いいたします。",
        ],
        "attribution": "On {date}, {name} wrote:",
        "reply_prefix": "Re: ",
    },
    "utf8": {
        "charsets": {"utf-8": 1},
        "names": ["Łukasz Wiśniewski", "Dvořák Jiří", "Ольга Петрова", "Ελένη Παπαδοπούλου"],
        "subjects": [
            "Problém s přihlášením",
            "Не приходит письмо для сброса пароля",
            "Zamówienie {n} – błędna kwota",
        ],
        "sentences": [
            "Dobrý den, nemohu se přihlásit do účtu.",
            "Здравствуйте, письмо со ссылкой так и не пришло.",
            "Dzień dobry, proszę o korektę faktury {n}.",
            "Děkuji za rychlou odpověď.",
        ],
        "attribution": "On {date}, {name} wrote:",
        "reply_prefix": "Re: ",
    },
}
LOCALE_WEIGHTS = {"en": 70, "latin": 18, "ja": 7, "utf8": 5}
ATTACHMENT_KINDS = [
    ("screenshot.png", "image/png"),
    ("invoice-{n}.pdf", "application/pdf"),
    ("logs.txt", "text/plain"),
    ("Rechnung März {n}.pdf", "application/pdf"),
    ("export.csv", "text/csv"),
]


@dataclass(frozen=True)
class Sender:
    name: str
    address: str
    locale: str


@dataclass
class MailSpec:
    """One generated mail and what it should thread onto."""

    index: int
    message_id: str
    kind: str  # "new" or "reply"
    via: str  # how a reply identifies its ticket; "" for new requests
    answers: str  # Message-ID of the mail a reply answers
    root: str  # Message-ID of the mail that opened the conversation
    chain: list[str]
    sender: Sender
    subject: str  # the conversation's subject, without Re:
    charset: str
    encoding: str
    raw_8bit_headers: bool
    body_format: str
    text: str
    html: str
    attachments: list[tuple[str, str, int]]
    inline_image: bool
    cc: list[str]
    date: datetime
    reply_prefix: str
    dkim: bool

    @property
    def deferred(self) -> bool:
        """Written only when fed: it needs its ticket's number or reply token."""
        return self.via in {"subject-tag", "plus-address"}

    @property
    def features(self) -> list[str]:
        found = [self.body_format, self.charset]
        if self.attachments:
            found.append("attachments")
        if self.inline_image:
            found.append("inline-image")
        if self.cc:
            found.append("cc")
        return found


def _weighted(rng: random.Random, weights: dict[Any, int]) -> Any:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _senders(rng: random.Random, count: int) -> list[Sender]:
    senders = []
    for number in range(count):
        locale = _weighted(rng, LOCALE_WEIGHTS)
        name = rng.choice(LOCALES[locale]["names"])
        domain = f"customer{number % 400}.example.test"
        senders.append(Sender(name=name, address=f"user{number}@{domain}", locale=locale))
    return senders


def _sentences(rng: random.Random, locale: str, charset: str, count: int) -> list[str]:
    corpus = list(LOCALES[locale]["sentences"])
    if charset == "windows-1252":
        corpus += LOCALES[locale]["cp1252_sentences"] * 2
    return [rng.choice(corpus).format(n=rng.randint(10_000, 99_999)) for _ in range(count)]


def _html(paragraphs: list[str], quoted: list[str], rng: random.Random, cid: str) -> str:
    escaped = [p.replace("&", "&amp;").replace("<", "&lt;") for p in paragraphs]
    body = "".join(f"<p>{p}</p>\n" for p in escaped)
    extras = []
    if rng.random() < 0.5:
        extras.append('<p><a href="https://status.example.test/orders">order status</a></p>')
    if rng.random() < 0.3:
        extras.append('<img src="https://track.example.test/open.gif" width="1" height="1">')
    if rng.random() < 0.1:  # hostile or sloppy markup the sanitizer must remove
        extras.append('<script>alert(1)</script><div onclick="steal()">click</div>')
    if cid:
        extras.append(f'<p><img src="cid:{cid}" alt="screenshot"></p>')
    style = "<style>p { font-family: Calibri; }</style>" if rng.random() < 0.4 else ""
    quote_html = ""
    if quoted:
        quote_html = (
            '<div class="gmail_quote"><blockquote type="cite">'
            + "<br>".join(line.replace("<", "&lt;") for line in quoted)
            + "</blockquote></div>"
        )
    return (
        f"<html><head>{style}</head><body><div>\n{body}{''.join(extras)}\n</div>"
        f"{quote_html}</body></html>"
    )


def generate(
    count: int, *, seed: int, namespace: str, gap: int = REPLY_GAP, window: int = REPLY_WINDOW
) -> list[MailSpec]:
    """`count` mails, the same for the same seed; a reply answers a mail sent between `gap`
    and `window` mails before it."""
    rng = random.Random(seed)
    senders = _senders(rng, SENDERS)
    base = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
    specs: list[MailSpec] = []
    for index in range(count):
        message_id = f"<{namespace}.{index:05d}.{rng.getrandbits(32):08x}@mail.example.test>"
        date = base + timedelta(seconds=index * 7)
        is_reply = index >= gap and rng.random() < REPLY_SHARE
        if is_reply:
            original = specs[rng.randint(max(0, index - window), index - gap)]
            via = _weighted(rng, REPLY_VIA)
            sender = original.sender
            if rng.random() < 0.05:  # a colleague answers from the same company
                local, _, domain = sender.address.partition("@")
                sender = Sender(f"{sender.name} (colleague)", f"{local}.b@{domain}", sender.locale)
            subject = original.subject
            answers, root, chain = original.message_id, original.root, original.chain
        else:
            via = ""
            if rng.random() < NEW_SENDER_SHARE:  # someone who never wrote before
                locale = _weighted(rng, LOCALE_WEIGHTS)
                name = rng.choice(LOCALES[locale]["names"])
                address = f"new{index}.{namespace}@first{index % 97}.example.test"
                sender = Sender(name=name, address=address, locale=locale)
            else:
                sender = rng.choice(senders)
            subject_template = rng.choice(LOCALES[sender.locale]["subjects"])
            subject = subject_template.format(n=rng.randint(10_000, 99_999))
            answers, root, chain = "", message_id, []
        locale = LOCALES[sender.locale]
        charset = _weighted(rng, locale["charsets"])
        encoding = {
            "utf-8": _weighted(rng, {"quoted-printable": 6, "8bit": 3, "base64": 1}),
            "iso-8859-1": _weighted(rng, {"quoted-printable": 6, "8bit": 4}),
            "windows-1252": _weighted(rng, {"quoted-printable": 5, "8bit": 5}),
            "shift_jis": "base64",
        }[charset]
        paragraphs = _sentences(rng, sender.locale, charset, rng.randint(2, 7))
        quoted: list[str] = []
        attribution = ""
        if is_reply:
            attribution = locale["attribution"].format(
                date=format_datetime(date - timedelta(hours=3)), name="Bench Support"
            )
            quoted = [f"> {line}" for line in _sentences(rng, sender.locale, charset, 4)]
        signature = f"-- \n{sender.name}\n+1 555 {rng.randint(1000, 9999)}"
        text_lines = [*paragraphs, "", signature]
        if quoted:
            text_lines += ["", attribution, *quoted]
        body_format = _weighted(rng, BODY_FORMATS)
        attachments: list[tuple[str, str, int]] = []
        if rng.random() < 0.15:
            for _ in range(rng.choices([1, 2, 3], weights=[6, 3, 1])[0]):
                filename, content_type = rng.choice(ATTACHMENT_KINDS)
                size = _weighted(rng, ATTACHMENT_SIZES)
                attachments.append((filename.format(n=rng.randint(100, 999)), content_type, size))
        inline_image = body_format != "plain" and rng.random() < 0.04
        cid = f"img{index}@mail.example.test" if inline_image else ""
        cc = []
        if rng.random() < 0.08:
            local, _, domain = sender.address.partition("@")
            cc = [f"{local}.manager@{domain}"]
        specs.append(
            MailSpec(
                index=index,
                message_id=message_id,
                kind="reply" if is_reply else "new",
                via=via,
                answers=answers,
                root=root,
                chain=[*chain, message_id][-20:],
                sender=sender,
                subject=subject,
                charset=charset,
                encoding=encoding,
                raw_8bit_headers=charset == "windows-1252" and rng.random() < 0.3,
                body_format=body_format,
                text="\n".join(text_lines),
                html=_html(paragraphs, [attribution, *quoted] if quoted else [], rng, cid),
                attachments=attachments,
                inline_image=inline_image,
                cc=cc,
                date=date,
                reply_prefix=locale["reply_prefix"] if is_reply else "",
                dkim=rng.random() < 0.5,
            )
        )
    return specs


def _encode_body(data: bytes, encoding: str) -> bytes:
    if encoding == "base64":
        return base64.encodebytes(data).replace(b"\n", CRLF)
    if encoding == "quoted-printable":
        return quopri.encodestring(data).replace(b"\n", CRLF)
    return data.replace(b"\r\n", b"\n").replace(b"\n", CRLF)


def _text_part(text: str, subtype: str, charset: str, encoding: str) -> bytes:
    head = (
        f'Content-Type: text/{subtype}; charset="{charset}"\r\n'
        f"Content-Transfer-Encoding: {encoding}\r\n\r\n"
    )
    return head.encode("ascii") + _encode_body(text.encode(charset), encoding)


def _multipart(subtype: str, boundary: str, parts: list[bytes]) -> bytes:
    chunks = [f'Content-Type: multipart/{subtype}; boundary="{boundary}"\r\n\r\n'.encode()]
    for part in parts:
        chunks += [f"--{boundary}\r\n".encode(), part, CRLF]
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks)


def _attachment_part(
    filename: str, content_type: str, payload: bytes, content_id: str = ""
) -> bytes:
    # Non-ASCII names in RFC 2231 form, as most clients send them.
    name = f'filename="{filename}"' if filename.isascii() else f"filename*=utf-8''{quote(filename)}"
    disposition = "inline" if content_id else "attachment"
    head = f"Content-Type: {content_type}\r\nContent-Disposition: {disposition}; {name}\r\n"
    if content_id:
        head += f"Content-ID: <{content_id}>\r\n"
    head += "Content-Transfer-Encoding: base64\r\n\r\n"
    return head.encode("ascii") + _encode_body(payload, "base64")


def _encoded_words(value: str, charset: str) -> str:
    """RFC 2047 B-encoded words of at most 45 bytes each, never splitting a character."""
    words, chunk = [], ""
    for character in value:
        if len((chunk + character).encode(charset)) > 45:
            words.append(chunk)
            chunk = ""
        chunk += character
    words.append(chunk)
    return "\r\n ".join(
        f"=?{charset}?B?{base64.b64encode(w.encode(charset)).decode('ascii')}?=" for w in words
    )


def _header_value(value: str, spec: MailSpec) -> bytes:
    if value.isascii():
        return value.encode("ascii")
    if spec.raw_8bit_headers:  # an old client: 8-bit bytes in the header, no encoding
        return value.encode(spec.charset)
    return _encoded_words(value, spec.charset).encode("ascii")


def render(spec: MailSpec, *, ticket: tuple[int, str] | None = None) -> tuple[bytes, list[str]]:
    """The raw mail and its envelope recipients; `ticket` is (number, reply token) for
    replies that identify their ticket by subject tag or plus address."""
    rng = random.Random(spec.index * 7919 + len(spec.message_id))
    to = SUPPORT
    subject = f"{spec.reply_prefix}{spec.subject}"
    if spec.via == "subject-tag" and ticket is not None:
        subject = f"{subject} [#{ticket[0]}]"
    if spec.via == "plus-address" and ticket is not None:
        to = f"support+t-{ticket[1]}@bench.localhost"
    cid = f"img{spec.index}@mail.example.test" if spec.inline_image else ""
    if spec.body_format == "html-only":
        body = _text_part(spec.html, "html", spec.charset, spec.encoding)
    elif spec.body_format == "alternative":
        body = _multipart(
            "alternative",
            f"alt-{spec.index}",
            [
                _text_part(spec.text, "plain", spec.charset, spec.encoding),
                _text_part(spec.html, "html", spec.charset, spec.encoding),
            ],
        )
    else:
        body = _text_part(spec.text, "plain", spec.charset, spec.encoding)
    if cid:
        image = _attachment_part("screenshot.png", "image/png", rng.randbytes(8_000), cid)
        body = _multipart("related", f"rel-{spec.index}", [body, image])
    if spec.attachments:
        files = [
            _attachment_part(filename, content_type, rng.randbytes(size))
            for filename, content_type, size in spec.attachments
        ]
        body = _multipart("mixed", f"mix-{spec.index}", [body, *files])
    date = format_datetime(spec.date)
    domain = spec.sender.address.partition("@")[2]
    headers: list[tuple[str, bytes]] = [
        (
            "Received",
            f"from mail.{domain} (mail.{domain} [192.0.2.{spec.index % 250 + 1}])\r\n"
            f"\tby mx.bench.localhost with ESMTPS id {rng.getrandbits(48):012x}\r\n"
            f"\tfor <{to}>; {date}".encode(),
        ),
    ]
    if spec.dkim:
        signature = base64.b64encode(rng.randbytes(192)).decode("ascii")
        headers.append(
            (
                "DKIM-Signature",
                f"v=1; a=rsa-sha256; c=relaxed/relaxed; d={domain}; s=s1;\r\n"
                f"\th=from:to:subject:date:message-id; bh={signature[:44]};\r\n"
                f"\tb={signature[:76]}\r\n\t{signature[76:]}".encode(),
            )
        )
    name = spec.sender.name
    sender_name = f'"{name}"'.encode() if name.isascii() else _header_value(name, spec)
    headers += [
        ("From", sender_name + f" <{spec.sender.address}>".encode()),
        ("To", f"Bench Support <{to}>".encode()),
        ("Subject", _header_value(subject, spec)),
        ("Date", date.encode()),
        ("Message-ID", spec.message_id.encode()),
    ]
    if spec.cc:
        headers.append(("Cc", ", ".join(spec.cc).encode()))
    if spec.kind == "reply" and spec.via == "in-reply-to":
        headers.append(("In-Reply-To", spec.answers.encode()))
        headers.append(("References", "\r\n ".join(spec.chain[:-1]).encode()))
    elif spec.kind == "reply" and spec.via == "references":
        headers.append(("References", "\r\n ".join(spec.chain[:-1]).encode()))
    headers += [("MIME-Version", b"1.0"), ("User-Agent", b"BenchMail/1.0")]
    head = b"".join(name.encode() + b": " + value + CRLF for name, value in headers)
    return head + body, [to]


# --- Measuring --------------------------------------------------------------------------


def _percentiles(values: list[float], scale: float = 1.0) -> dict[str, float | int]:
    if not values:
        return {"count": 0}
    ordered = sorted(values)

    def at(share: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))] * scale, 2)

    return {
        "count": len(ordered),
        "mean": round(statistics.fmean(ordered) * scale, 2),
        "p50": at(0.50),
        "p95": at(0.95),
        "p99": at(0.99),
        "max": round(ordered[-1] * scale, 2),
    }


def _tenant_id(connection: Any, context: Context) -> Any:
    """The bench tenant's id, so the benchmark's own queries use the tenant indexes."""
    row = connection.execute(
        "SELECT id FROM tenancy_tenant WHERE slug = %s", [context.tenant_slug]
    ).fetchone()
    return row[0]


class TicketLookup:
    """The ticket (number, reply token) of a mail once the worker has processed it."""

    def __init__(self, context: Context) -> None:
        self.connection = context.admin_connection()
        self.tenant_id = _tenant_id(self.connection, context)
        self.waited = 0.0

    def processed_many(self, message_ids: list[str]) -> dict[str, tuple[int, str]]:
        """The tickets of those of the mails the worker has processed yet (one query)."""
        rows = self.connection.execute(
            "SELECT e.message_id, t.number, t.reply_token FROM tickets_inboundemail e"
            " JOIN tickets_ticket t ON t.id = e.ticket_id"
            " WHERE e.tenant_id = %s AND e.message_id = ANY(%s)",
            [self.tenant_id, message_ids],
        ).fetchall()
        return {row[0]: (int(row[1]), str(row[2])) for row in rows}

    def processed(self, message_id: str) -> tuple[int, str] | None:
        """The ticket, if the worker has processed the mail yet (one query, no waiting)."""
        return self.processed_many([message_id]).get(message_id)

    def ticket_of(self, message_id: str, timeout: float = 120.0) -> tuple[int, str] | None:
        started = time.monotonic()
        try:
            while True:
                ticket = self.processed(message_id)
                if ticket is not None:
                    return ticket
                if time.monotonic() - started > timeout:
                    return None
                time.sleep(0.02)
        finally:
            self.waited += time.monotonic() - started

    def close(self) -> None:
        self.connection.close()


class HeldReplies:
    """Tag-only and address-only replies whose ticket the worker has not processed yet:
    each is sent once its ticket is there (a customer answers the acknowledgement when it
    arrives), while the producers go on with the mail after it. The tickets of all held
    replies are looked up together, in one query at most every LOOK_EVERY_SECONDS, not one
    query per accepted mail: the benchmark's own queries run on the same two cores as the
    system it measures."""

    LOOK_EVERY_SECONDS = 0.05
    GIVE_UP_SECONDS = 120.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: list[MailSpec] = []
        self._ready: collections.deque[tuple[MailSpec, tuple[int, str]]] = collections.deque()
        self._looked = 0.0
        self._progress = time.monotonic()

    def stalled_for(self) -> float:
        """Seconds since a held reply last found its ticket."""
        with self._lock:
            return time.monotonic() - self._progress

    def give_up(self) -> tuple[MailSpec, None] | None:
        """The oldest held reply, without its ticket (its ticket never came)."""
        with self._lock:
            return (self._held.pop(0), None) if self._held else None

    def __bool__(self) -> bool:
        with self._lock:
            return bool(self._held or self._ready)

    def add(self, spec: MailSpec) -> None:
        with self._lock:
            self._held.append(spec)

    def take_ready(self, lookup: TicketLookup) -> tuple[MailSpec, tuple[int, str]] | None:
        """The oldest held reply whose ticket is there; looks again when it is time."""
        with self._lock:
            if self._ready:
                return self._ready.popleft()
            if not self._held or time.monotonic() - self._looked < self.LOOK_EVERY_SECONDS:
                return None
            self._looked = time.monotonic()
            held = list(self._held)
        tickets = lookup.processed_many([spec.answers for spec in held])
        with self._lock:
            if tickets:
                self._progress = time.monotonic()
                found = {id(spec) for spec in held if spec.answers in tickets}
                self._ready.extend(
                    (spec, tickets[spec.answers]) for spec in held if id(spec) in found
                )
                self._held = [spec for spec in self._held if id(spec) not in found]
            return self._ready.popleft() if self._ready else None


@dataclass
class FeedResult:
    started: datetime
    finished: datetime
    started_monotonic: float = field(default_factory=time.monotonic)
    accept_seconds: list[float] = field(default_factory=list)
    waited_for_tickets: float = 0.0
    unresolved: int = 0
    not_accepted: int = 0


def feed(
    context: Context,
    specs: list[MailSpec],
    prepared: dict[int, tuple[bytes, list[str]]],
    *,
    threads: int,
    rate: float | None = None,
) -> FeedResult:
    """Accept every mail through `intake.accept` from `threads` producers, in order, at
    `rate` mails per second or as fast as they go."""
    from django.db import connection

    from tickets.mail_in import intake

    lock = threading.Lock()
    position = iter(range(len(specs)))
    held = HeldReplies()
    errors: list[BaseException] = []
    result = FeedResult(started=datetime.now(UTC), finished=datetime.now(UTC))

    def next_spec(lookup: TicketLookup) -> tuple[MailSpec, tuple[int, str] | None] | None:
        """A held reply whose ticket is there by now, else the next mail in order (a
        deferred one is held until its ticket is there); once the order is through, the
        held replies, waiting for their tickets."""
        while True:
            ready = held.take_ready(lookup)
            if ready is not None:
                return ready
            with lock:
                number = next(position, None)
            if number is None:
                if not held:
                    return None
                if held.stalled_for() > HeldReplies.GIVE_UP_SECONDS:
                    return held.give_up()  # written without its ticket: counted unresolved
                began = time.monotonic()
                time.sleep(HeldReplies.LOOK_EVERY_SECONDS / 2)
                lookup.waited += time.monotonic() - began
                continue
            if rate:
                delay = result.started_monotonic + number / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            spec = specs[number]
            if not spec.deferred:
                return spec, None
            held.add(spec)

    def produce() -> None:
        lookup = TicketLookup(context)
        try:
            while True:
                chosen = next_spec(lookup)
                if chosen is None:
                    return
                spec, ticket = chosen
                if spec.deferred:
                    if ticket is None:
                        with lock:
                            result.unresolved += 1
                    raw, envelope_to = render(spec, ticket=ticket)
                else:
                    raw, envelope_to = prepared[spec.index]
                began = time.perf_counter()
                accepted = intake.accept(
                    raw=raw,
                    envelope_to=envelope_to,
                    envelope_from=spec.sender.address,
                    channel="smtp",
                )
                elapsed = time.perf_counter() - began
                with lock:
                    result.accept_seconds.append(elapsed)
                    if accepted is None or not accepted.created:
                        result.not_accepted += 1
        except BaseException as error:
            errors.append(error)
        finally:
            with lock:
                result.waited_for_tickets += lookup.waited
            lookup.close()
            connection.close()

    producers = [threading.Thread(target=produce, name=f"producer-{n}") for n in range(threads)]
    for producer in producers:
        producer.start()
    for producer in producers:
        producer.join()
    if errors:
        raise errors[0]
    result.finished = datetime.now(UTC)
    return result


class Worker:
    """One `celery worker` subprocess on the bench environment, as `make run` starts it."""

    def __init__(self, context: Context, concurrency: int) -> None:
        self.context = context
        self.concurrency = concurrency
        self.log_path = context.var_dir / f"worker-c{concurrency}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "helpdesk",
                "worker",
                "-Q",
                ",".join(QUEUES),
                "--concurrency",
                str(concurrency),
                "-l",
                "info",
                "-n",
                f"bench-c{concurrency}@%h",
            ],
            cwd=ROOT,
            env=context.subprocess_environment(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped by its id, alone
        )

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited:\n{self.log_path.read_text()[-3000:]}")
            if re.search(r"bench-c\d+@\S+ ready\.", self.log_path.read_text(errors="replace")):
                return
            time.sleep(0.1)
        raise RuntimeError(f"worker not ready after {timeout}s:\n{self.log_path.read_text()}")

    def main_process(self) -> Any:
        import psutil

        return psutil.Process(self.process.pid)

    def processes(self) -> list[Any]:
        import psutil

        try:
            main = psutil.Process(self.process.pid)
            return [main, *main.children(recursive=True)]
        except psutil.Error:
            return []

    def high_water_marks(self) -> dict[str, int]:
        """VmHWM (peak resident memory) of the worker's main process and each child, bytes."""
        marks = {}
        for process in self.processes():
            with contextlib.suppress(OSError):
                status = Path(f"/proc/{process.pid}/status").read_text()
                match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
                if match:
                    role = "main" if process.pid == self.process.pid else f"child {process.pid}"
                    marks[role] = int(match.group(1)) * 1024
        return marks

    def log_offset(self) -> int:
        return self.log_path.stat().st_size

    def task_runtimes(self, since: int) -> dict[str, list[float]]:
        """Seconds per task from the worker's own 'succeeded in' log lines."""
        with self.log_path.open("rb") as handle:
            handle.seek(since)
            text = handle.read().decode("utf-8", "replace")
        runtimes: dict[str, list[float]] = defaultdict(list)
        for match in re.finditer(r"Task ([\w.]+)\[[0-9a-f-]+\] succeeded in ([0-9.e+-]+)s", text):
            runtimes[match.group(1).rsplit(".", 1)[-1]].append(float(match.group(2)))
        for match in re.finditer(r"Task ([\w.]+)\[[0-9a-f-]+\] (raised|retry)", text):
            runtimes[f"{match.group(1).rsplit('.', 1)[-1]} ({match.group(2)})"].append(0.0)
        return runtimes

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # warm shutdown
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self._log.close()


def _postgres_root(context: Context) -> Any:
    """The postmaster when the server runs on this machine, else None (nothing to count)."""
    import psutil

    with context.admin_connection() as connection:
        backend = int(connection.execute("SELECT pg_backend_pid()").fetchone()[0])
        with contextlib.suppress(psutil.Error):
            postmaster = psutil.Process(backend).parent()
            if postmaster is not None and "postgres" in postmaster.name():
                return postmaster
    return None


def _redis_root(context: Context) -> Any:
    import psutil

    pid = int(context.redis().info("server").get("process_id", 0))
    with contextlib.suppress(psutil.Error):
        process = psutil.Process(pid)
        if "redis" in process.name():
            return process
    return None


# The tables the inbound path writes, which a long run grows from empty.
MAIL_TABLES = (
    "tickets_inboundemail",
    "tickets_contact",
    "tickets_ticket",
    "tickets_message",
    "tickets_attachment",
    "tickets_ticketsearch",
    "tickets_ticketfollower",
    "mail_outboundemail",
)


class AutoAnalyze:
    """What autovacuum's analyze would do, on a server where it is off.

    A server whose autovacuum is off (this machine's shared one: `autovacuum = off` in its
    CI configuration) never gathers statistics on the bench database, whose mail tables
    grow from empty: the planner then takes a tenant's whole table for the few rows a
    batch looks up (the threading lookup by Message-ID read every message of the tenant),
    and PostgreSQL's CPU per mail grows with the run. Production runs autovacuum. So here,
    every two seconds, a table is analyzed by autovacuum's own rule (more rows changed since
    the last analyze than 50 plus 10% of the table); its CPU counts as PostgreSQL's.
    Nothing runs when the server's autovacuum is on."""

    def __init__(self, context: Context) -> None:
        self.context = context
        self.analyzed: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> AutoAnalyze:
        with self.context.admin_connection() as connection:
            enabled = connection.execute("SHOW autovacuum").fetchone()[0] == "on"
        if not enabled:
            self._thread = threading.Thread(target=self._loop, daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> AutoAnalyze:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _loop(self) -> None:
        from psycopg import sql

        with self.context.admin_connection() as connection:
            while not self._stop.wait(2.0):
                due = connection.execute(
                    "SELECT s.relname FROM pg_stat_user_tables s"
                    " JOIN pg_class c ON c.oid = s.relid"
                    " WHERE s.relname = ANY(%s)"
                    " AND s.n_mod_since_analyze > 50 + 0.1 * greatest(c.reltuples, 0)",
                    [list(MAIL_TABLES)],
                ).fetchall()
                for (table,) in due:
                    connection.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))
                    self.analyzed[table] += 1


def _machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent not idle, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class Meter:
    """CPU seconds over a phase of the worker, PostgreSQL and Redis (each a root process and
    its children), of this process (the producers) and of the whole machine; and the
    worker's peak resident memory, sampled every half second.

    A process that ends between two samples (a PostgreSQL backend that lived for one task)
    is counted through its parent's reaped-children times.
    """

    def __init__(self, roots: dict[str, Any]) -> None:
        self.roots = {name: root for name, root in roots.items() if root is not None}
        self.peak_worker_rss = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._start: dict[str, Any] = {}
        self._first: dict[tuple[str, int], float] = {}
        self._last: dict[tuple[str, int], float] = {}

    @staticmethod
    def _cpu(times: Any) -> float:
        return float(times.user + times.system)

    def _reaped(self, name: str) -> float:
        times = self.roots[name].cpu_times()
        return float(times.children_user + times.children_system)

    def _sample(self, *, initial: bool = False) -> set[tuple[str, int]]:
        import psutil

        alive = set()
        for name, root in self.roots.items():
            resident = 0
            try:
                processes = [root, *root.children(recursive=True)]
            except psutil.Error:
                continue
            for process in processes:
                try:
                    cpu = self._cpu(process.cpu_times())
                    if name == "worker":
                        resident += process.memory_info().rss
                except psutil.Error:
                    continue
                key = (name, process.pid)
                alive.add(key)
                with self._lock:
                    self._first.setdefault(key, cpu if initial else 0.0)
                    self._last[key] = cpu
            if name == "worker":
                self.peak_worker_rss = max(self.peak_worker_rss, resident)
        return alive

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            self._sample()

    def start(self) -> None:
        self._first.clear()
        self._last.clear()
        self._stop.clear()
        started_alive = self._sample(initial=True)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        self._start = {
            "wall": time.monotonic(),
            "own": usage.ru_utime + usage.ru_stime,
            "machine": _machine_busy_seconds(),
            "reaped": {name: self._reaped(name) for name in self.roots},
            "alive": started_alive,
        }
        self._thread = threading.Thread(target=self._loop, name="meter", daemon=True)
        self._thread.start()

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        alive = self._sample()
        wall = time.monotonic() - self._start["wall"]
        usage = resource.getrusage(resource.RUSAGE_SELF)
        seconds: dict[str, float] = {}
        for name in self.roots:
            # Live processes by their own times; ended ones by what their parent reaped,
            # less what they had used before the phase began.
            total = self._reaped(name) - self._start["reaped"][name]
            for key, last in self._last.items():
                if key[0] != name:
                    continue
                if key in alive:
                    total += last - self._first[key]
                elif key in self._start["alive"]:
                    total -= self._first[key]
            seconds[name] = total
        seconds["bench process (producers)"] = usage.ru_utime + usage.ru_stime - self._start["own"]
        machine = _machine_busy_seconds() - self._start["machine"]
        seconds["rest of the machine"] = max(0.0, machine - sum(seconds.values()))
        cores = len(os.sched_getaffinity(0))
        return {
            "wall_seconds": round(wall, 2),
            "cpu_seconds": {k: round(v, 2) for k, v in seconds.items()},
            "machine_busy_percent": round(100 * machine / (wall * cores), 1),
        }


def wait_until_processed(context: Context) -> bool:
    """Until no row is queued; False when nothing moved for STUCK_AFTER_SECONDS."""
    last, moved = -1, time.monotonic()
    with context.admin_connection() as connection:  # one connection: no backend per poll
        tenant_id = _tenant_id(connection, context)
        while True:
            queued = int(
                connection.execute(
                    "SELECT count(*) FROM tickets_inboundemail"
                    " WHERE tenant_id = %s AND status = 'queued'",
                    [tenant_id],
                ).fetchone()[0]
            )
            if queued == 0:
                return True
            if queued != last:
                last, moved = queued, time.monotonic()
            elif time.monotonic() - moved > STUCK_AFTER_SECONDS:
                return False
            time.sleep(0.5)


def wait_until_drained(context: Context, timeout: float = 300.0) -> float:
    """Until every queue is empty and nothing is unacknowledged; returns the monotonic time."""
    client = context.redis()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        waiting = sum(client.llen(queue) for queue in QUEUES) + client.hlen("unacked")
        if waiting == 0:
            return time.monotonic()
        time.sleep(0.2)
    return time.monotonic()


def _rows(context: Context) -> dict[str, dict[str, Any]]:
    with context.admin_connection() as connection:
        cursor = connection.execute(
            "SELECT message_id, status, ticket_id, created_at, processed_at, reason"
            " FROM tickets_inboundemail"
        )
        columns = [c.name for c in cursor.description or []]
        return {row[0]: dict(zip(columns, row, strict=True)) for row in cursor.fetchall()}


def threading_accuracy(specs: list[MailSpec], rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Replies on the ticket of the mail they answer (and of the conversation's first mail)."""
    by_via: dict[str, Counter[str]] = defaultdict(Counter)
    misthreaded: list[dict[str, Any]] = []
    for spec in specs:
        if spec.kind != "reply":
            continue
        row = rows.get(spec.message_id) or {}
        expected = (rows.get(spec.answers) or {}).get("ticket_id")
        root = (rows.get(spec.root) or {}).get("ticket_id")
        actual = row.get("ticket_id")
        counts = by_via[spec.via]
        counts["replies"] += 1
        counts["threaded"] += int(actual is not None and actual == expected)
        counts["root"] += int(actual is not None and actual == root)
        if not (actual is not None and actual == expected) and len(misthreaded) < 10:
            misthreaded.append(
                {"message_id": spec.message_id, "via": spec.via, "status": row.get("status")}
            )
    replies = sum(c["replies"] for c in by_via.values())
    threaded = sum(c["threaded"] for c in by_via.values())
    return {
        "replies": replies,
        "threaded": threaded,
        "accuracy_percent": round(100 * threaded / replies, 3) if replies else None,
        "on_root_ticket": sum(c["root"] for c in by_via.values()),
        "by_via": {
            via: {
                "replies": c["replies"],
                "threaded": c["threaded"],
                "accuracy_percent": round(100 * c["threaded"] / c["replies"], 3),
            }
            for via, c in sorted(by_via.items())
        },
        "examples_not_threaded": misthreaded,
    }


def _phase_figures(
    specs: list[MailSpec], rows: dict[str, dict[str, Any]], fed: FeedResult
) -> dict[str, Any]:
    mine = [rows[s.message_id] for s in specs if s.message_id in rows]
    processed = [r for r in mine if r["status"] == "processed"]
    statuses = Counter(r["status"] for r in mine)
    last = max((r["processed_at"] for r in processed), default=fed.finished)
    first_done = min((r["processed_at"] for r in processed), default=fed.started)
    wall = (last - fed.started).total_seconds()
    latencies = [(r["processed_at"] - r["created_at"]).total_seconds() for r in processed]
    return {
        "messages": len(specs),
        "accepted": len(mine),
        "processed": len(processed),
        "not_processed": len(specs) - len(processed),
        "statuses": dict(statuses),
        "failure_reasons": Counter(
            r["reason"][:120] for r in mine if r["status"] in {"failed", "rejected"}
        ).most_common(5),
        "wall_seconds": round(wall, 2),
        "messages_per_second": round(len(processed) / wall, 1) if wall > 0 else None,
        "steady_messages_per_second": round(
            len(processed) / max((last - first_done).total_seconds(), 1e-9), 1
        ),
        "feed_seconds": round((fed.finished - fed.started).total_seconds(), 2),
        "producer_waited_for_tickets_seconds": round(fed.waited_for_tickets, 2),
        "replies_written_without_their_ticket": fed.unresolved,
        "accepted_as_duplicates": fed.not_accepted,
        "accept_ms": _percentiles(fed.accept_seconds, 1000),
        "created_to_processed_ms": _percentiles(latencies, 1000),
        "threading": threading_accuracy(specs, rows),
    }


def _ack_figures(context: Context) -> dict[str, int]:
    with context.admin_connection() as connection:
        row = connection.execute(
            "SELECT count(*) FILTER (WHERE m.is_automatic),"
            " count(*) FILTER (WHERE m.is_automatic AND o.status = 'sent'),"
            " (SELECT count(*) FROM tickets_ticket)"
            " FROM tickets_message m LEFT JOIN mail_outboundemail o ON o.id = m.outbound_email_id"
        ).fetchone()
    outbox = context.var_dir / "outbox"
    return {
        "acknowledgements_queued": int(row[0]),
        "acknowledgements_sent": int(row[1]),
        "outbox_files": len(list(outbox.glob("*.eml"))) if outbox.exists() else 0,
        "tickets": int(row[2]),
    }


def _runtime_figures(runtimes: dict[str, list[float]]) -> dict[str, Any]:
    busy = sum(sum(values) for values in runtimes.values()) or 1e-9
    return {
        name: {
            **_percentiles(values, 1000),
            "share_of_worker_time_percent": round(100 * sum(values) / busy, 1),
        }
        for name, values in sorted(runtimes.items())
    }


def _cpu_per_message(meter: dict[str, Any], processed: int) -> dict[str, float]:
    return {
        name: round(1000 * seconds / max(processed, 1), 2)
        for name, seconds in meter["cpu_seconds"].items()
    }


def celery_round_trip(worker: Worker, roots: dict[str, Any], tasks: int) -> dict[str, Any]:
    """What Celery alone costs per task on this worker: `tasks` no-op tasks
    (`celery.accumulate`, which returns its argument) published from PRODUCER_THREADS
    threads as intake publishes, consumed, acknowledged and logged at info. Every mail needs
    one such round trip for its processing and one more for an acknowledgement."""
    from helpdesk.celery import app

    offset = worker.log_offset()
    meter = Meter(roots)
    meter.start()
    share = tasks // PRODUCER_THREADS

    def publish() -> None:
        for number in range(share):
            app.send_task("celery.accumulate", args=(number,), queue=QUEUES[0])

    producers = [threading.Thread(target=publish) for _ in range(PRODUCER_THREADS)]
    for producer in producers:
        producer.start()
    for producer in producers:
        producer.join()
    sent = share * PRODUCER_THREADS
    deadline = time.monotonic() + STUCK_AFTER_SECONDS
    while len(worker.task_runtimes(offset).get("accumulate", [])) < sent:
        if time.monotonic() > deadline:
            raise RuntimeError("the worker did not finish the no-op tasks")
        time.sleep(0.1)
    usage = meter.stop()
    return {
        "tasks": sent,
        "resources": usage,
        "cpu_ms_per_task": _cpu_per_message(usage, sent),
    }


def run_worker_configuration(context: Context, concurrency: int, messages: int) -> dict[str, Any]:
    """Saturation with `messages`, then about PACED_SECONDS at half the measured rate."""
    context.prepare()
    load_before = os.getloadavg()
    specs = generate(messages, seed=SEED, namespace="bench")
    prepared = {s.index: render(s) for s in specs if not s.deferred}
    sizes = [float(len(raw)) for raw, _ in prepared.values()]
    worker = Worker(context, concurrency)
    analyze = AutoAnalyze(context).start()
    try:
        worker.wait_ready()
        meter = Meter(
            {
                "worker": worker.main_process(),
                "postgres": _postgres_root(context),
                "redis": _redis_root(context),
            }
        )
        print(f"  Celery alone: {FLOOR_TASKS} no-op tasks", flush=True)
        round_trip = celery_round_trip(worker, meter.roots, FLOOR_TASKS)
        offset = worker.log_offset()
        print(f"  saturation: {messages} messages, worker --concurrency {concurrency}", flush=True)
        meter.start()
        fed = feed(context, specs, prepared, threads=PRODUCER_THREADS)
        completed = wait_until_processed(context)
        processed_monotonic = time.monotonic()
        drained = wait_until_drained(context)
        usage = meter.stop()
        rows = _rows(context)
        saturation = _phase_figures(specs, rows, fed)
        saturation["completed"] = completed
        saturation["all_queues_drained_seconds"] = round(drained - fed.started_monotonic, 2)
        saturation["worker_task_ms"] = _runtime_figures(worker.task_runtimes(offset))
        saturation["resources"] = usage
        saturation["cpu_ms_per_message"] = _cpu_per_message(usage, saturation["processed"])
        saturation["drain_after_processed_seconds"] = round(drained - processed_monotonic, 2)
        saturation.update(_ack_figures(context))
        print(
            f"  {saturation['processed']} processed in {saturation['wall_seconds']} s:"
            f" {saturation['messages_per_second']} msg/s;"
            f" threading {saturation['threading']['accuracy_percent']}%",
            flush=True,
        )
        rate = max(1.0, PACED_LOAD * (saturation["messages_per_second"] or 1.0))
        paced = min(PACED_MESSAGES, max(50, int(rate * PACED_SECONDS)))
        paced_specs = generate(paced, seed=SEED + 1, namespace="paced", gap=50, window=400)
        paced_prepared = {s.index: render(s) for s in paced_specs if not s.deferred}
        offset = worker.log_offset()
        print(f"  half load: {paced} messages at {rate:.1f} msg/s", flush=True)
        meter.start()
        paced_fed = feed(context, paced_specs, paced_prepared, threads=PRODUCER_THREADS, rate=rate)
        wait_until_processed(context)
        wait_until_drained(context)
        paced_usage = meter.stop()
        half = _phase_figures(paced_specs, _rows(context), paced_fed)
        half["offered_messages_per_second"] = round(rate, 1)
        half["worker_task_ms"] = _runtime_figures(worker.task_runtimes(offset))
        half["resources"] = paced_usage
        half["cpu_ms_per_message"] = _cpu_per_message(paced_usage, half["processed"])
        marks = worker.high_water_marks()
    finally:
        worker.stop()
        analyze.stop()
    return {
        "concurrency": concurrency,
        "analyzed_by_the_bench": dict(analyze.analyzed),
        "load_average_before": [round(v, 2) for v in load_before],
        "raw_message_bytes": _percentiles(sizes),
        "saturation": saturation,
        "half_load": half,
        "celery_round_trip": round_trip,
        "worker_memory": {
            "peak_total_rss_mb_sampled": round(meter.peak_worker_rss / 2**20, 1),
            "high_water_mark_mb": {k: round(v / 2**20, 1) for k, v in marks.items()},
            "high_water_mark_sum_mb": round(sum(marks.values()) / 2**20, 1),
        },
    }


def mix(specs: list[MailSpec]) -> dict[str, Any]:
    features: Counter[str] = Counter()
    for spec in specs:
        features.update(spec.features)
    seen: set[str] = set()
    first_time = 0
    for spec in specs:
        if spec.sender.address not in seen:
            first_time += 1
            seen.add(spec.sender.address)
    return {
        "new": sum(s.kind == "new" for s in specs),
        "new_senders": first_time,
        "new_sender_share_of_new_requests": round(
            first_time / max(1, sum(s.kind == "new" for s in specs)), 3
        ),
        "replies": dict(sorted(Counter(s.via for s in specs if s.kind == "reply").items())),
        "features": dict(sorted(features.items())),
    }


# --- Profile ----------------------------------------------------------------------------

_FROM_TABLE = re.compile(r'\bFROM\s+"(\w+)"', re.IGNORECASE)
_WRITE = re.compile(r'^(INSERT INTO|UPDATE|DELETE FROM)\s+"?(\w+)"?', re.IGNORECASE)


def sql_group(statement: str) -> str:
    """`SELECT tickets_message`, `SAVEPOINT`, ...: one name per kind of statement."""
    text = statement.strip()
    word = text.split(None, 1)[0].upper() if text else ""
    if word in {"SAVEPOINT", "RELEASE", "ROLLBACK", "COMMIT", "SET"}:
        return word
    if word == "SELECT":
        if "WITH recorded AS" in text:  # execute_in_tenant: setting and statement at once
            return "outbox record and claim (with the tenant setting)"
        if "set_config" in text:
            return "SELECT set_config (tenant)"
        match = _FROM_TABLE.search(text)
        detail = " FOR UPDATE" if "FOR UPDATE" in text else ""
        return f"SELECT {match.group(1) if match else '(expression)'}{detail}"
    match = _WRITE.match(text)
    if match:
        suffix = " ON CONFLICT" if "ON CONFLICT" in text else ""
        return f"{match.group(1).split()[0].upper()} {match.group(2)}{suffix}"
    return word or "?"


STAGES = ("accept", "process", "acknowledge")


@dataclass
class Sample:
    kind: str
    features: list[str]
    seconds: dict[str, float] = field(default_factory=dict)
    queries: dict[str, list[tuple[str, float]]] = field(default_factory=dict)


def _in_process(
    context: Context,
    specs: list[MailSpec],
    *,
    capture: bool,
    profilers: dict[str, cProfile.Profile] | None = None,
) -> list[Sample]:
    """Each mail as the worker path handles it, here and one at a time: `intake.accept`
    (not queued), the task body of process_inbound_email (which also queues a new ticket's
    acknowledgement), and for a new ticket the task that sends it (deliver_message_email)."""
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    from helpdesk.mail.models import OutboundEmailStatus
    from helpdesk.tenancy.context import tenant_context
    from helpdesk.tenancy.models import Tenant
    from tickets.mail_in import intake
    from tickets.models import Message

    tenant_id = str(Tenant.objects.get(slug=context.tenant_slug).id)
    lookup = TicketLookup(context)
    samples = []

    def measure(sample: Sample, stage: str, call: Callable[[], Any]) -> Any:
        timed: list[tuple[str, float]] = []

        def timer(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
            began = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                timed.append((sql_group(sql), time.perf_counter() - began))

        profiler = (profilers or {}).get(stage)
        reset_queries()  # Django keeps 9,000 at most; a full log would capture nothing
        queries = CaptureQueriesContext(connection) if capture else contextlib.nullcontext()
        wrapper = connection.execute_wrapper(timer) if capture else contextlib.nullcontext()
        with queries as captured, wrapper:
            began = time.perf_counter()
            if profiler is not None:
                profiler.enable()
            try:
                return call()
            finally:
                if profiler is not None:
                    profiler.disable()
                sample.seconds[stage] = sample.seconds.get(stage, 0.0) + (
                    time.perf_counter() - began
                )
                if captured is not None:
                    # Statements timed to the microsecond here; BEGIN and COMMIT do not pass
                    # through a cursor, so theirs is Django's figure (whole milliseconds).
                    sample.queries.setdefault(stage, []).extend(timed)
                    sample.queries[stage].extend(
                        (q["sql"], float(q["time"]))
                        for q in captured.captured_queries
                        if q["sql"] in {"BEGIN", "COMMIT", "ROLLBACK"}
                    )

    try:
        for spec in specs:
            sample = Sample(kind=spec.kind, features=spec.features)
            ticket = lookup.ticket_of(spec.answers, timeout=5) if spec.deferred else None
            raw, envelope_to = render(spec, ticket=ticket)
            accepted = measure(
                sample,
                "accept",
                functools.partial(
                    intake.accept,
                    raw=raw,
                    envelope_to=envelope_to,
                    envelope_from=spec.sender.address,
                    channel="smtp",
                    enqueue=False,
                ),
            )
            email_id = accepted.email_id
            measure(
                sample,
                "process",
                functools.partial(
                    mail_in_tasks.process_inbound_email.run, tenant_id=tenant_id, email_id=email_id
                ),
            )
            if spec.kind == "new":
                with tenant_context(tenant_id):
                    queued = [
                        str(message_id)
                        for message_id in Message.objects.filter(
                            email_message_id__startswith=f"<ack-{email_id}@",
                            outbound_email__status=OutboundEmailStatus.QUEUED,
                        ).values_list("id", flat=True)
                    ]
                for message_id in queued:
                    measure(
                        sample,
                        "acknowledge",
                        functools.partial(
                            mail_out_tasks.deliver_message_email.run,
                            tenant_id=tenant_id,
                            message_id=message_id,
                        ),
                    )
            samples.append(sample)
    finally:
        lookup.close()
    return samples


PROFILE_STEPS: dict[str, list[tuple[str, str, str]]] = {
    "accept": [
        ("intake.accept (total)", "tickets/mail_in/intake.py", "accept"),
        ("resolve_recipient", "tickets/mail_in/intake.py", "resolve_recipient"),
        ("parse_headers (once per mail)", "tickets/mail_in/intake.py", "parse_headers"),
        ("header_recipients", "tickets/mail_in/intake.py", "header_recipients"),
        ("Celery publish after commit", "celery/app/task.py", "apply_async"),
        ("all SQL statements (Django cursor)", "django/db/backends/utils.py", "_execute"),
        ("COMMIT", "django/db/backends/base/base.py", "commit"),
    ],
    "process": [
        ("task body (total, tenant_context included)", "helpdesk/tenancy/tasks.py", "run"),
        ("parse_email", "tickets/mail_in/parsing.py", "parse_email"),
        ("_content (HTML sanitizing, quote split)", "tickets/mail_in/services.py", "_content"),
        ("get_or_create_contact", "tickets/ticket/services/people.py", "get_or_create_contact"),
        ("find_thread", "tickets/mail_in/services.py", "find_thread"),
        ("create_ticket", "tickets/ticket/services/lifecycle.py", "create_ticket"),
        ("  store_attachments", "tickets/ticket/services/messages.py", "store_attachments"),
        ("add_customer_message", "tickets/ticket/services/conversation.py", "add_customer_message"),
        (
            "refresh_search_vector (both paths)",
            "tickets/ticket/services/base.py",
            "refresh_search_vector",
        ),
        ("change_status (reopen)", "tickets/ticket/services/lifecycle.py", "change_status"),
        ("add_followers", "tickets/ticket/services/people.py", "add_followers"),
        ("own_addresses (cached)", "departments/selectors.py", "own_addresses"),
        ("_mark", "tickets/mail_in/services.py", "_mark"),
        ("acknowledge (queued with the ticket)", "tickets/mail_out/services.py", "acknowledge"),
        ("  templates.compose", "tickets/mail_out/templates.py", "compose"),
        ("Celery publish after commit (acknowledgement)", "celery/app/task.py", "apply_async"),
        ("all SQL statements (Django cursor)", "django/db/backends/utils.py", "_execute"),
        ("COMMIT", "django/db/backends/base/base.py", "commit"),
    ],
    "acknowledge": [
        ("sending task (total)", "helpdesk/tenancy/tasks.py", "run"),
        ("claim_message_email", "tickets/mail_out/services.py", "claim_message_email"),
        ("  build_email", "tickets/mail_out/services.py", "build_email"),
        ("  render_to_string (reply templates)", "django/template/loader.py", "render_to_string"),
        ("  EmailMessage.send (outbox file)", "django/core/mail/message.py", "send"),
        ("Celery publish after commit", "celery/app/task.py", "apply_async"),
        ("all SQL statements (Django cursor)", "django/db/backends/utils.py", "_execute"),
        ("COMMIT", "django/db/backends/base/base.py", "commit"),
    ],
}


def _category(filename: str, function: str) -> str:
    text = f"{filename} {function}"
    if "psycopg" in text:
        return "psycopg (driver, waiting for PostgreSQL)"
    if "/django/db/" in filename:
        return "Django ORM and SQL compiler"
    if "/django/template" in filename:
        return "Django templates"
    if "/django/" in filename:
        return "Django, other"
    if "nh3" in text:
        return "nh3 (HTML sanitizer)"
    if re.search(r"/python3\.\d+/email/", filename):
        return "stdlib email package"
    if any(f"/{name}/" in filename for name in ("celery", "kombu", "redis", "amqp", "vine")):
        return "Celery, kombu, redis-py"
    if filename.startswith(str(ROOT)) and "/.venv/" not in filename:
        return "help desk code"
    return "other (stdlib, builtins)"


def _stage_profile(stats: pstats.Stats, stage: str, messages: int) -> dict[str, Any]:
    raw = stats.stats  # type: ignore[attr-defined]

    def cumulative(suffix: str, function: str) -> float:
        total: float = sum(
            value[3]
            for (filename, _, name), value in raw.items()
            if name == function and filename.endswith(suffix)
        )
        return total

    steps = PROFILE_STEPS[stage]
    total = cumulative(steps[0][1], steps[0][2]) or 1e-9
    categories: Counter[str] = Counter()
    for (filename, _, name), value in raw.items():
        categories[_category(filename, name)] += value[2]
    own_total = sum(categories.values()) or 1e-9
    top = sorted(raw.items(), key=lambda item: -item[1][2])[:15]
    return {
        "ms_per_message": round(1000 * total / messages, 2),
        "steps": [
            {
                "step": label,
                "ms_per_message": round(1000 * cumulative(suffix, name) / messages, 3),
                "share_percent": round(100 * cumulative(suffix, name) / total, 1),
            }
            for label, suffix, name in steps
        ],
        "own_time_by_package": [
            {
                "package": name,
                "ms_per_message": round(1000 * seconds / messages, 3),
                "share_percent": round(100 * seconds / own_total, 1),
            }
            for name, seconds in categories.most_common()
        ],
        "top_functions": [
            {
                "function": name if filename == "~" else f"{Path(filename).name}:{line} {name}",
                "calls_per_message": round(value[1] / messages, 1),
                "own_ms_per_message": round(1000 * value[2] / messages, 3),
                "cumulative_ms_per_message": round(1000 * value[3] / messages, 3),
            }
            for (filename, line, name), value in top
        ],
    }


def _query_groups(samples: list[Sample], stage: str) -> dict[str, Any]:
    groups: dict[str, list[float]] = defaultdict(list)
    for sample in samples:
        for name, seconds in sample.queries.get(stage, []):
            groups[name].append(seconds)
    count = len(samples)
    total = sum(sum(v) for v in groups.values()) or 1e-9
    return {
        "statements_per_message": round(sum(len(v) for v in groups.values()) / count, 1),
        "sql_ms_per_message": round(1000 * total / count, 2),
        "groups": sorted(
            (
                {
                    "statement": name,
                    "per_message": round(len(times) / count, 2),
                    "ms_per_message": round(1000 * sum(times) / count, 3),
                    "share_of_sql_time_percent": round(100 * sum(times) / total, 1),
                }
                for name, times in groups.items()
            ),
            key=lambda g: (-g["ms_per_message"], -g["per_message"]),
        ),
    }


def _process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a local process (a PostgreSQL backend); None when not readable
    (a remote server)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def serial_cpu(context: Context, specs: list[MailSpec]) -> dict[str, Any]:
    """CPU per mail with nothing else running: this process (intake, processing and the
    acknowledgement's sending, as `_in_process` runs them) and its PostgreSQL backend.
    Steadier than the saturation figures, where both cores are shared by everything."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    backend_before, python_before = _process_cpu_seconds(pid), time.process_time()
    began = time.perf_counter()
    _in_process(context, specs, capture=False)
    wall = time.perf_counter() - began
    python = time.process_time() - python_before
    backend_after = _process_cpu_seconds(pid)
    backend = (
        None if backend_before is None or backend_after is None else backend_after - backend_before
    )
    count = len(specs)
    return {
        "messages": count,
        "python_ms_per_message": round(1000 * python / count, 2),
        "postgres_ms_per_message": None if backend is None else round(1000 * backend / count, 2),
        "wall_ms_per_message": round(1000 * wall / count, 2),
    }


def serial_floor(context: Context, specs: list[MailSpec]) -> dict[str, Any]:
    """CPU per mail of two steps every mail must take, alone: `intake.accept` (the raw mail
    stored and committed; not queued, publishing is in the Celery round trip) with its
    PostgreSQL backend, and `parse_email` (the modern policy the issue asks for)."""
    from django.db import connection

    from tickets.mail_in import intake
    from tickets.mail_in.parsing import parse_email

    mails = [render(spec) for spec in specs]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    backend_before, python_before = _process_cpu_seconds(pid), time.process_time()
    for spec, (raw, envelope_to) in zip(specs, mails, strict=True):
        intake.accept(
            raw=raw,
            envelope_to=envelope_to,
            envelope_from=spec.sender.address,
            channel="smtp",
            enqueue=False,
        )
    python = time.process_time() - python_before
    backend_after = _process_cpu_seconds(pid)
    parse_before = time.process_time()
    for raw, _ in mails:
        parse_email(raw)
    parse = time.process_time() - parse_before
    count = len(specs)
    return {
        "messages": count,
        "intake_python_ms": round(1000 * python / count, 2),
        "intake_postgres_ms": None
        if backend_before is None or backend_after is None
        else round(1000 * (backend_after - backend_before) / count, 2),
        "parse_ms": round(1000 * parse / count, 2),
    }


def run_profile(context: Context) -> dict[str, Any]:
    """CPU per message, SQL per message, then a cProfile, of accept, processing and
    acknowledgement here, one mail at a time."""
    print(f"  profile: {PROFILE_MESSAGES} messages three times, in process", flush=True)
    cpu = serial_cpu(
        context, generate(PROFILE_MESSAGES, seed=SEED + 4, namespace="profile-serial", gap=15)
    )
    floor = serial_floor(
        context, generate(PROFILE_MESSAGES * 5, seed=SEED + 5, namespace="profile-floor", gap=15)
    )
    sql_specs = generate(PROFILE_MESSAGES, seed=SEED + 2, namespace="profile-sql", gap=15)
    samples = _in_process(context, sql_specs, capture=True)
    profilers = {stage: cProfile.Profile() for stage in STAGES}
    cpu_specs = generate(PROFILE_MESSAGES, seed=SEED + 3, namespace="profile-cpu", gap=15)
    _in_process(context, cpu_specs, capture=False, profilers=profilers)
    by_kind: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        by_kind[sample.kind].append(sample)
        for feature in sample.features:
            by_kind[feature].append(sample)
    new = sum(s.kind == "new" for s in samples)
    return {
        "serial_cpu": cpu,
        "serial_floor": floor,
        "messages": len(samples),
        "new_tickets": new,
        "ms": {
            stage: _percentiles([s.seconds[stage] for s in samples if stage in s.seconds], 1000)
            for stage in STAGES
        },
        "by_kind": {
            kind: {
                "messages": len(items),
                "process_ms_mean": round(
                    1000 * statistics.fmean(s.seconds["process"] for s in items), 2
                ),
                "process_statements_mean": round(
                    statistics.fmean(len(s.queries.get("process", [])) for s in items), 1
                ),
            }
            for kind, items in sorted(by_kind.items())
        },
        "sql": {
            "accept": _query_groups(samples, "accept"),
            "process": _query_groups(samples, "process"),
            "acknowledge": _query_groups([s for s in samples if s.kind == "new"], "acknowledge"),
        },
        "cprofile": {
            "accept": _stage_profile(pstats.Stats(profilers["accept"]), "accept", len(cpu_specs)),
            "process": _stage_profile(
                pstats.Stats(profilers["process"]), "process", len(cpu_specs)
            ),
            "acknowledge": _stage_profile(
                pstats.Stats(profilers["acknowledge"]),
                "acknowledge",
                max(1, sum(s.kind == "new" for s in cpu_specs)),
            ),
        },
    }


def accept_unqueued(chunk: list[MailSpec], tickets: dict[str, tuple[int, str]]) -> None:
    """Accept these mails in this process without waking a drain (the caller processes them
    itself), a tag-only or address-only reply with the ticket of the mail it answers."""
    from tickets.mail_in import intake

    for spec in chunk:
        raw, envelope_to = render(spec, ticket=tickets.get(spec.answers))
        intake.accept(
            raw=raw,
            envelope_to=envelope_to,
            envelope_from=spec.sender.address,
            channel="smtp",
            enqueue=False,
        )


def note_tickets(
    tenant_id: Any, chunk: list[MailSpec], tickets: dict[str, tuple[int, str]]
) -> None:
    """Remember the ticket (number, reply token) each processed mail of the chunk is on,
    for the replies that answer it later (accept_unqueued)."""
    from helpdesk.tenancy.context import tenant_context
    from tickets.models import InboundEmail

    with tenant_context(tenant_id):
        for message_id, number, token in InboundEmail.objects.filter(
            message_id__in=[s.message_id for s in chunk], ticket__isnull=False
        ).values_list("message_id", "ticket__number", "ticket__reply_token"):
            tickets[message_id] = (number, token)


def batch_sql(context: Context) -> dict[str, Any]:
    """SQL statements per mail of the batched path, as the drain runs it: BATCH_SQL_MESSAGES
    generated mails accepted here (not queued), then processed BATCH_SQL_SIZE at a time by
    `process_batch` under CaptureQueriesContext (the first batch, which warms the caches, is
    not counted). Tag-only and address-only replies are written once the batch before
    processed the mail they answer, as in the saturation phase."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from helpdesk.tenancy.context import tenant_context
    from helpdesk.tenancy.models import Tenant
    from tickets.mail_in import services as inbound

    print(f"  batch SQL: {BATCH_SQL_MESSAGES} messages, {BATCH_SQL_SIZE} a batch", flush=True)
    tenant_id = Tenant.objects.get(slug=context.tenant_slug).id
    specs = generate(
        BATCH_SQL_MESSAGES,
        seed=SEED + 6,
        namespace="batch-sql",
        gap=BATCH_SQL_SIZE,
        window=BATCH_SQL_SIZE,
    )
    tickets: dict[str, tuple[int, str]] = {}
    counted = statements = 0
    groups: Counter[str] = Counter()
    began = time.perf_counter()
    for start in range(0, len(specs), BATCH_SQL_SIZE):
        chunk = specs[start : start + BATCH_SQL_SIZE]
        accept_unqueued(chunk, tickets)
        with tenant_context(tenant_id), CaptureQueriesContext(connection) as captured:
            done = inbound.process_batch(limit=BATCH_SQL_SIZE)
        if start:
            counted += len(done)
            statements += len(captured.captured_queries)
            groups.update(sql_group(q["sql"]) for q in captured.captured_queries)
        note_tickets(tenant_id, chunk, tickets)
    return {
        "messages": counted,
        "batch_size": BATCH_SQL_SIZE,
        "statements_per_message": round(statements / max(1, counted), 2),
        "seconds": round(time.perf_counter() - began, 2),
        "by_kind_per_message": {
            group: round(count / max(1, counted), 2) for group, count in groups.most_common(15)
        },
    }


# --- Entry points for bench.run -----------------------------------------------------------


def run(context: Context, options: dict[str, Any]) -> dict[str, Any]:
    """Every phase; `options` may set messages, concurrency (a list) and skip_profile."""
    messages = int(options.get("messages") or MESSAGES)
    concurrencies = options.get("concurrency") or [2]
    runs = [run_worker_configuration(context, c, messages) for c in concurrencies]
    result: dict[str, Any] = {
        "parameters": {
            "messages": messages,
            "seed": SEED,
            "reply_share": REPLY_SHARE,
            "reply_gap": REPLY_GAP,
            "senders": SENDERS,
            "producer_threads": PRODUCER_THREADS,
            "half_load": PACED_LOAD,
            "profile_messages": PROFILE_MESSAGES,
            "queues": list(QUEUES),
            "target_messages_per_second": TARGET_MESSAGES_PER_SECOND,
        },
        "mix": mix(generate(messages, seed=SEED, namespace="bench")),
        "runs": runs,
    }
    with AutoAnalyze(context):
        result["batch_sql"] = batch_sql(context)
        if not options.get("skip_profile"):
            result["profile"] = run_profile(context)
    return result


def _cell(figures: dict[str, Any], *keys: str) -> str:
    if not figures.get("count"):
        return "-"
    return " / ".join(f"{figures[k]:,}" for k in keys)


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + " --- |" * len(header),
        *("| " + " | ".join(str(cell) for cell in row) + " |" for row in rows),
    ]


def _serial_cpu_lines(cpu: dict[str, Any] | None) -> list[str]:
    if not cpu:
        return []
    postgres = cpu["postgres_ms_per_message"]
    total = cpu["python_ms_per_message"] + (postgres or 0)
    return [
        f"CPU per mail, serial ({cpu['messages']} more messages: intake, processing and"
        f" sending the acknowledgement in this process): **{cpu['python_ms_per_message']} ms"
        f" Python + {postgres if postgres is not None else '?'} ms PostgreSQL backend ="
        f" {round(total, 2)} ms** ({cpu['wall_ms_per_message']} ms wall). The worker adds"
        " Celery's own work per task on top. 300 msg/s on 2 cores leaves 6.7 ms of CPU per"
        " mail for everything.",
        "",
    ]


def _profile_markdown(profile: dict[str, Any]) -> list[str]:
    sql, cprofile, ms = profile["sql"], profile["cprofile"], profile["ms"]
    lines = [
        "",
        f"#### Where the time goes ({profile['messages']} messages, {profile['new_tickets']}"
        " of them new tickets, one at a time in the bench process: no worker, no contention)",
        "",
        *_serial_cpu_lines(profile.get("serial_cpu")),
        *_table(
            ["stage", "ms per message: mean / p50 / p95", "SQL statements", "SQL ms"],
            [
                [
                    label,
                    _cell(ms[stage], "mean", "p50", "p95"),
                    sql[stage]["statements_per_message"],
                    sql[stage]["sql_ms_per_message"],
                ]
                for stage, label in (
                    ("accept", "`intake.accept` (SMTP listener side)"),
                    ("process", "`process_inbound_email` task body"),
                    ("acknowledge", "acknowledgement: sending task (per new ticket)"),
                )
            ],
        ),
        "",
        "Processing by kind of mail (mean):",
        "",
        *_table(
            ["mail", "messages", "ms", "SQL statements"],
            [
                [kind, f["messages"], f["process_ms_mean"], f["process_statements_mean"]]
                for kind, f in profile["by_kind"].items()
            ],
        ),
    ]
    for stage, title in (
        ("process", "`process_inbound_email`"),
        ("accept", "`intake.accept`"),
        ("acknowledge", "acknowledgement sending task, per new ticket"),
    ):
        figures = cprofile[stage]
        lines += [
            "",
            f"{title}: cProfile of {PROFILE_MESSAGES} more messages"
            f" ({figures['ms_per_message']} ms per message with the profiler on):",
            "",
            *_table(
                ["step (cumulative)", "ms per message", "share"],
                [
                    [s["step"], s["ms_per_message"], f"{s['share_percent']}%"]
                    for s in figures["steps"]
                ],
            ),
            "",
            *_table(
                ["SQL statement", "per message", "ms per message", "share of SQL time"],
                [
                    [
                        f"`{g['statement']}`",
                        g["per_message"],
                        g["ms_per_message"],
                        f"{g['share_of_sql_time_percent']}%",
                    ]
                    for g in sql[stage]["groups"][: 14 if stage == "process" else 8]
                ],
            ),
            "",
            *_table(
                ["own time by package", "ms per message", "share"],
                [
                    [p["package"], p["ms_per_message"], f"{p['share_percent']}%"]
                    for p in figures["own_time_by_package"]
                ],
            ),
        ]
    lines += [
        "",
        "`process_inbound_email`, functions by own time:",
        "",
        *_table(
            ["function", "calls per message", "own ms", "cumulative ms"],
            [
                [
                    f"`{f['function']}`",
                    f["calls_per_message"],
                    f["own_ms_per_message"],
                    f["cumulative_ms_per_message"],
                ]
                for f in cprofile["process"]["top_functions"][:12]
            ],
        ),
    ]
    return lines


def _worker_shares(tasks: dict[str, dict[str, Any]]) -> str:
    def share(*names: str) -> float:
        total: float = sum(
            f.get("share_of_worker_time_percent", 0) for n, f in tasks.items() if n in names
        )
        return round(total, 1)

    # Mail is processed by the drain, a batch a task (process_inbound_email: the per-mail
    # path of older runs); mail goes out in delivery batches.
    processing = share("drain_inbound_emails", "process_inbound_email")
    sending = share("deliver_outbound_emails", "send_auto_acknowledgement", "deliver_message_email")
    reports = share("recompute_report_rollups", "refresh_pending_report_rollups")
    return f"{processing}% / {sending}% / {reports}%"


def markdown(result: dict[str, Any]) -> str:
    """The README section for one result."""
    parameters, runs, mixed = result["parameters"], result["runs"], result["mix"]
    saturations = [r["saturation"] for r in runs]
    halves = [r["half_load"] for r in runs]
    target = parameters["target_messages_per_second"]
    rows: list[list[Any]] = []

    def row(label: str, values: list[str]) -> None:
        rows.append([label, *values])

    row("messages processed", [f"{s['processed']:,} of {s['messages']:,}" for s in saturations])
    row(
        "**throughput** (first accept to last processed)",
        [f"**{s['messages_per_second']} msg/s** ({s['wall_seconds']} s)" for s in saturations],
    )
    row(
        f"target: at least {target} msg/s",
        [
            "met" if (s["messages_per_second"] or 0) >= target else "**not met**"
            for s in saturations
        ],
    )
    row(
        "all queues drained, acknowledgements sent",
        [f"{s['all_queues_drained_seconds']} s" for s in saturations],
    )
    row(
        "drain task time (a batch of mail), p50 / p95 / p99 ms (worker log)",
        [
            _cell(
                s["worker_task_ms"].get("drain_inbound_emails")
                or s["worker_task_ms"].get("process_inbound_email", {}),
                "p50",
                "p95",
                "p99",
            )
            for s in saturations
        ],
    )
    row(
        "share of worker time: processing mail / sending mail / report rollups",
        [_worker_shares(s["worker_task_ms"]) for s in saturations],
    )
    row(
        "created to processed at saturation, p50 / p95 ms (backlog included)",
        [_cell(s["created_to_processed_ms"], "p50", "p95") for s in saturations],
    )
    row(
        "**created to processed at half load**, p50 / p95 / p99 ms",
        [
            f"**{_cell(h['created_to_processed_ms'], 'p50', 'p95', 'p99')}**"
            f" ({h['processed']:,} messages at {h['offered_messages_per_second']} msg/s)"
            for h in halves
        ],
    )
    row(
        "`intake.accept` at saturation, p50 / p95 ms",
        [_cell(s["accept_ms"], "p50", "p95") for s in saturations],
    )
    row(
        "CPU ms per message: worker / PostgreSQL / Redis / producers / rest of machine",
        [
            " / ".join(
                str(s["cpu_ms_per_message"].get(k, "-"))
                for k in (
                    "worker",
                    "postgres",
                    "redis",
                    "bench process (producers)",
                    "rest of the machine",
                )
            )
            + f"; machine {s['resources']['machine_busy_percent']}% busy"
            for s in saturations
        ],
    )
    row(
        "**worker peak memory**: sum of RSS (sampled) / sum of VmHWM",
        [
            f"**{r['worker_memory']['peak_total_rss_mb_sampled']} MB** /"
            f" {r['worker_memory']['high_water_mark_sum_mb']} MB"
            for r in runs
        ],
    )
    row(
        "**threading accuracy** (replies on the right ticket)",
        [
            f"**{s['threading']['accuracy_percent']}%** ({s['threading']['threaded']:,} of"
            f" {s['threading']['replies']:,}); half load {h['threading']['accuracy_percent']}%"
            for s, h in zip(saturations, halves, strict=True)
        ],
    )
    for via in sorted(saturations[0]["threading"]["by_via"]):
        row(
            f"replies by {via}",
            [
                f"{s['threading']['by_via'].get(via, {}).get('accuracy_percent', '-')}% of"
                f" {s['threading']['by_via'].get(via, {}).get('replies', 0):,}"
                for s in saturations
            ],
        )
    row(
        "not processed / failed / rejected",
        [
            f"{s['not_processed']} / {s['statuses'].get('failed', 0)} /"
            f" {s['statuses'].get('rejected', 0)}"
            for s in saturations
        ],
    )
    row(
        "tickets / acknowledgements sent / outbox files",
        [
            f"{s['tickets']:,} / {s['acknowledgements_sent']:,} / {s['outbox_files']:,}"
            for s in saturations
        ],
    )
    if result.get("batch_sql"):
        sql = result["batch_sql"]
        row(
            f"**SQL statements per mail**, batches of {sql['batch_size']} (in process)",
            [f"**{sql['statements_per_message']}**" for _ in runs],
        )
    row(
        "load average before the run", [", ".join(map(str, r["load_average_before"])) for r in runs]
    )
    lines = [
        "### Inbound mail",
        "",
        f"{parameters['messages']:,} generated messages (mean"
        f" {runs[0]['raw_message_bytes'].get('mean', 0) / 1000:.1f} kB): {mixed['new']:,} new"
        f" requests ({mixed.get('new_senders', 0):,} from a sender who never wrote before);"
        " replies "
        + ", ".join(f"{v:,} by {k}" for k, v in mixed["replies"].items())
        + "; "
        + ", ".join(f"{v:,} {k}" for k, v in mixed["features"].items())
        + ".",
        "",
        *_table(["", *(f"worker `--concurrency {r['concurrency']}`" for r in runs)], rows),
    ]
    lines += _floor_markdown(result)
    if result.get("profile"):
        lines += _profile_markdown(result["profile"])
    return "\n".join(lines)


def _floor_markdown(result: dict[str, Any]) -> list[str]:
    """What the steps every mail must take cost before any ticket is written, against the
    CPU the target leaves per mail."""
    run = result["runs"][0]
    floor = (result.get("profile") or {}).get("serial_floor")
    round_trip = run.get("celery_round_trip")
    if not floor or not round_trip or floor.get("intake_postgres_ms") is None:
        return []
    saturation = run["saturation"]
    tasks_per_mail = 1 + saturation["acknowledgements_sent"] / max(saturation["processed"], 1)
    per_task = sum(round_trip["cpu_ms_per_task"].get(k, 0.0) for k in FLOOR_PARTS)
    celery = per_task * tasks_per_mail
    total = floor["intake_python_ms"] + floor["intake_postgres_ms"] + floor["parse_ms"] + celery
    cores = len(os.sched_getaffinity(0))
    budget = 1000 * cores / result["parameters"]["target_messages_per_second"]
    parts = " + ".join(f"{round_trip['cpu_ms_per_task'].get(k, 0.0)} {k}" for k in FLOOR_PARTS)
    return [
        "",
        "#### The floor: steps every mail takes, before any ticket is written",
        "",
        f"At {result['parameters']['target_messages_per_second']} msg/s, {cores} cores leave"
        f" {budget:.2f} ms of CPU per mail for everything. Three steps the issue requires of"
        " every mail, measured alone, already cost:",
        "",
        *_table(
            ["step", "CPU ms per mail"],
            [
                [
                    f"`intake.accept`: the raw mail stored and committed ({floor['messages']}"
                    " mails, one at a time): Python + PostgreSQL backend",
                    f"{floor['intake_python_ms']} + {floor['intake_postgres_ms']}",
                ],
                ["`parse_email` (the modern policy), the same mails", str(floor["parse_ms"])],
                [
                    f"Celery round trip of a no-op task ({round_trip['tasks']:,} on the worker"
                    f" above: {parts} ms), {tasks_per_mail:.2f} tasks per mail (processing,"
                    " and an acknowledgement for new tickets)",
                    f"{celery:.2f}",
                ],
                ["**total**", f"**{total:.2f}** ({100 * total / budget:.0f}% of {budget:.2f})"],
            ],
        ),
    ]
