"""Parse raw RFC 822 bytes into what the help desk needs, whatever the sender's client did.

`parse_email` never raises: every step has a fallback, and what could not be read is
listed in `problems`. Headers are read with the modern policy (decoded encoded words; raw
8-bit bytes as UTF-8, else Windows-1252); bodies are decoded with the declared charset, then
UTF-8, then Windows-1252. Every string it returns can be stored in Postgres text (no NUL).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr
from typing import cast

from tickets.mail_in import html as html_tools

_MESSAGE_ID = re.compile(r"<[^<>\s]{1,900}>")
_ESCAPED_BYTES = re.compile("[\udc80-\udcff]")  # 8-bit header bytes, as the parser keeps them
_LINE_BREAKS = re.compile(r"[\r\n]")
MAX_ADDRESS_LENGTH = 254  # RFC 5321; also the size of Contact.email
SINGLE_HEADERS = frozenset({"from", "subject", "reply-to"})
# The stdlib Message-ID parser raises on or rewrites odd ids (`<[a]@b>`, `<a"@b>` -> `<a`),
# and a reply's In-Reply-To (read as plain text) would then not match: read it raw, as
# intake does.
RAW_HEADERS = frozenset({"message-id"})
ATTACHED_MAIL_TYPES = frozenset({"message/rfc822", "message/global"})
_FALLBACK_CHARSETS = ("utf-8", "cp1252", "latin-1")
AUTOMATED_SENDERS = frozenset(
    {
        "mailer-daemon",
        "postmaster",
        "noreply",
        "no-reply",
        "donotreply",
        "do-not-reply",
        "bounce",
        "bounces",
        "notifications-noreply",
    }
)
MAX_ATTACHMENTS = 100


@dataclass
class ParsedAttachment:
    filename: str
    content_type: str
    payload: bytes
    content_id: str = ""
    is_inline: bool = False


@dataclass
class BounceReport:
    """A delivery-status notification: which of our messages failed, for whom, why."""

    original_message_id: str
    recipient: str
    status: str
    reason: str


@dataclass
class ParsedEmail:
    message_id: str = ""
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    subject: str = ""
    from_name: str = ""
    from_address: str = ""
    reply_to: str = ""
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    delivered_to: list[str] = field(default_factory=list)
    text: str = ""
    html: str = ""
    attachments: list[ParsedAttachment] = field(default_factory=list)
    auto_submitted: str = ""
    precedence: str = ""
    list_id: str = ""
    has_autoreply_header: bool = False
    bounce: BounceReport | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def thread_ids(self) -> list[str]:
        """Message-IDs this mail answers, most specific first."""
        seen: list[str] = []
        for message_id in [*self.in_reply_to, *reversed(self.references)]:
            if message_id not in seen:
                seen.append(message_id)
        return seen

    @property
    def header_recipients(self) -> list[str]:
        ordered: list[str] = []
        for address in [*self.delivered_to, *self.to, *self.cc]:
            if address and address not in ordered:
                ordered.append(address)
        return ordered

    @property
    def is_automated(self) -> bool:
        """Mail from a machine: never auto-acknowledge it (mail loops)."""
        local = self.from_address.split("@", 1)[0]
        return (
            self.auto_submitted not in ("", "no")
            or self.precedence in {"bulk", "junk", "list", "auto_reply"}
            or bool(self.list_id)
            or self.has_autoreply_header
            or local in AUTOMATED_SENDERS
            or self.bounce is not None
        )


def _legacy_8bit_header(name: str, raw: object) -> str | None:
    """A header sent as raw 8-bit bytes that are not UTF-8, read as Windows-1252.

    The parser decodes raw UTF-8 header bytes itself but turns any other byte into U+FFFD;
    old clients send Latin-1 or Windows-1252 names and subjects. None: nothing to redo.
    """
    if not isinstance(raw, str) or not _ESCAPED_BYTES.search(raw):
        return None
    data = raw.encode("utf-8", "surrogateescape")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return None
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:  # bytes cp1252 leaves undefined
        text = data.decode("latin-1")
    return str(policy.default.header_factory(name, _LINE_BREAKS.sub("", text)))


def _header_text(message: Message, name: str, raw: object) -> str:
    if name.lower() in RAW_HEADERS:
        return _LINE_BREAKS.sub("", str(raw))
    legacy = _legacy_8bit_header(name, raw)
    if legacy is not None:
        return legacy
    header_policy = message.policy
    if _needs_modern_header(name, raw):
        # The fast path's message (compat32) keeps the raw value exactly as the modern
        # parse does (both policies' header_source_parse are the same); reading it here
        # with the modern policy's own header parser gives what the full parse gives.
        header_policy = policy.default
    return str(header_policy.header_fetch_parse(name, cast("str", raw)))


def _header(message: Message, name: str, problems: list[str]) -> str:
    """The header's decoded text; all its copies joined, or the first for single headers.
    A copy the parser cannot read is kept as sent."""
    try:
        raws = [raw for key, raw in message.raw_items() if key.lower() == name.lower()]
    except Exception as error:
        problems.append(f"header {name}: {error}")
        return ""
    if name.lower() in SINGLE_HEADERS:  # a second From or Subject is a forgery or a bug
        raws = raws[:1]
    texts = []
    for raw in raws:
        try:
            texts.append(_header_text(message, name, raw))
        except Exception as error:
            problems.append(f"header {name}: {error}")
            texts.append(_LINE_BREAKS.sub("", str(raw)))
    return " ".join(" ".join(texts).split())


def _addresses(raw: str) -> list[str]:
    result = []
    for _, address in getaddresses([raw]):
        address = address.strip().strip("<>").lower()
        if "@" in address and len(address) <= MAX_ADDRESS_LENGTH and address not in result:
            result.append(address)
    return result


def _message_ids(raw: str) -> list[str]:
    return [m[:998] for m in _MESSAGE_ID.findall(raw)]


def _decoded_payload(part: Message) -> bytes | None:
    """`get_payload(decode=True)`: a leaf part's bytes; None for a multipart one."""
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else None


def decode_part(part: Message, problems: list[str]) -> str:
    """Text of a MIME part: declared charset, then UTF-8, then Windows-1252 (lossless)."""
    payload: bytes | None
    try:
        payload = _decoded_payload(part)
    except Exception as error:
        problems.append(f"payload: {error}")
        payload = None
    if payload is None:
        raw = part.get_payload()
        return raw if isinstance(raw, str) else ""
    charset = (part.get_content_charset() or "").strip().lower()
    for candidate in dict.fromkeys((charset, *_FALLBACK_CHARSETS)):
        if not candidate:
            continue
        try:
            return payload.decode(candidate)
        except Exception:  # unknown charset, bad bytes, or a codec that is not for text
            if candidate == charset:
                problems.append(f"charset {charset!r} did not decode; fell back")
    return payload.decode("utf-8", errors="replace")  # unreachable: latin-1 always decodes


def _filename(part: Message, index: int) -> str:
    try:
        name = part.get_filename()
    except Exception:
        name = None
    if not name:
        subtype = part.get_content_subtype() or "bin"
        name = f"attachment-{index}.{subtype}"
    name = name.replace("\\", "/").rsplit("/", 1)[-1].strip() or f"attachment-{index}"
    return name[:255]


def _parts(message: Message) -> Iterator[Message]:
    """Every part in order, as walk() gives them, except that an attached mail stays one
    part (kept whole as an .eml) instead of lending its body to the outer one."""
    stack = [message]
    while stack:
        part = stack.pop()
        yield part
        if part.is_multipart() and part.get_content_type() not in ATTACHED_MAIL_TYPES:
            stack.extend(reversed(cast("list[Message]", part.get_payload())))


def _walk_body(message: Message, parsed: ParsedEmail) -> None:
    """Collect the first text and HTML bodies and every attachment."""
    texts: list[str] = []
    htmls: list[str] = []
    for index, part in enumerate(_parts(message)):
        content_type = part.get_content_type()
        if part.is_multipart() and content_type not in ATTACHED_MAIL_TYPES:
            continue
        if part.get_content_maintype() == "multipart":
            content_type = "text/plain"  # no usable boundary: the parser kept the body as text
        try:
            disposition = (part.get_content_disposition() or "").lower()
        except Exception:
            disposition = ""
        is_body_text = content_type in {"text/plain", "text/html"} and disposition != "attachment"
        if is_body_text:
            text = decode_part(part, parsed.problems)
            (texts if content_type == "text/plain" else htmls).append(text)
            continue
        if content_type in {"message/delivery-status", "text/rfc822-headers"}:
            continue
        if len(parsed.attachments) >= MAX_ATTACHMENTS:
            parsed.problems.append("too many attachments; the rest are only in the original")
            break
        try:
            payload = _decoded_payload(part)
            if payload is None:
                inner = part.get_payload()
                if isinstance(inner, list) and inner:  # message/rfc822: keep it as an .eml
                    payload = cast(Message, inner[0]).as_bytes(policy=policy.compat32)
                elif isinstance(inner, str):
                    payload = inner.encode("utf-8", errors="replace")
                else:
                    continue
        except Exception as error:
            parsed.problems.append(f"attachment {index}: {error}")
            continue
        content_id = str(part.get("Content-ID", "") or "").strip().strip("<>")
        filename = _filename(part, index)
        if content_type in ATTACHED_MAIL_TYPES and not filename.lower().endswith(".eml"):
            filename = filename.removesuffix(".rfc822").removesuffix(".global") or "forwarded"
            filename = filename[:251] + ".eml"
        parsed.attachments.append(
            ParsedAttachment(
                filename=filename,
                content_type=content_type[:255],
                payload=payload,
                content_id=content_id[:255],
                is_inline=disposition == "inline"
                or (bool(content_id) and disposition != "attachment"),
            )
        )
    parsed.text = "\n\n".join(t for t in texts if t.strip()).strip()
    parsed.html = "\n".join(htmls).strip()
    if not parsed.text and parsed.html:
        parsed.text = html_tools.html_to_text(parsed.html)


def _bounce(message: Message, parsed: ParsedEmail) -> BounceReport | None:
    content_type = message.get_content_type()
    report_type = str(message.get_param("report-type", "") or "").lower()
    if not (content_type == "multipart/report" and report_type == "delivery-status"):
        return None
    original = ""
    recipient = status = reason = ""
    for part in message.walk():
        part_type = part.get_content_type()
        if part_type == "message/delivery-status":
            for block in part.get_payload() or []:
                if not isinstance(block, Message):
                    continue
                recipient = recipient or str(block.get("Final-Recipient", "")).split(";")[-1]
                status = status or str(block.get("Status", ""))
                reason = reason or str(block.get("Diagnostic-Code", "")).split(";")[-1]
        elif part_type in {"message/rfc822", "text/rfc822-headers"}:
            inner = part.get_payload()
            headers_text = ""
            if isinstance(inner, list) and inner:
                headers_text = str(cast(Message, inner[0]).get("Message-ID", ""))
            elif isinstance(inner, str):
                match = re.search(r"^Message-ID:\s*(<[^>]+>)", inner, re.IGNORECASE | re.MULTILINE)
                headers_text = match.group(1) if match else ""
            ids = _message_ids(headers_text)
            original = original or (ids[0] if ids else "")
    return BounceReport(
        original_message_id=original,
        recipient=recipient.strip().lower(),
        status=status.strip(),
        reason=" ".join(reason.split())[:2000],
    )


def parse_email(raw: bytes) -> ParsedEmail:
    """Everything the pipeline reads from a mail. Never raises.

    The standard library's modern policy (header objects for every header the parser and
    we look at, encoded-word decoding, address re-rendering: about half of the parsing
    time) is needed only for header values that hold an encoded word, an 8-bit byte or a
    comment in an address. So every mail is parsed with the compat32 policy, whose headers
    are the strings as sent, and the headers `_read` asks for (sender, subject, recipients,
    threading, automation markers) are read with the modern policy's header parser where
    their value needs it (`_header_text`). Only a mail whose MIME structure headers need it
    (an encoded or 8-bit Content-* header, any such header of an inner part: attachment
    file names, delivery reports) takes the full modern parse.
    tests/tickets/test_parsing_paths.py holds the two to the same result on every mail
    corpus of the test suite."""
    try:
        message = BytesParser(policy=policy.compat32).parsebytes(raw)
    except Exception:
        return parse_email_modern(raw)
    if needs_modern_policy(message):
        return parse_email_modern(raw)
    return _read(message, ParsedEmail())


# Address headers whose comments the modern policy drops: `a@b (Name)` has no display name.
_ADDRESS_HEADERS = frozenset({"from", "to", "cc", "reply-to", "delivered-to", "x-original-to"})


def _needs_modern_header(name: str, value: object) -> bool:
    """A value the compat32 policy would read differently from the modern one: an encoded
    word (`=?charset?...`), a byte outside ASCII, or a comment in an address."""
    if not isinstance(value, str) or "=?" in value or not value.isascii():
        return True
    return "(" in value and name.lower() in _ADDRESS_HEADERS


def needs_modern_policy(message: Message) -> bool:
    """Whether the structure the compat32 parse read could differ from the modern parse's:
    a header of an inner part, or a Content-* header of the mail itself, whose value needs
    the modern policy. The mail's other headers are either read through `_header`, which
    uses the modern header parser where the value needs it, or never read."""
    for part in message.walk():
        for name, value in part.raw_items():
            if part is message and not name.lower().startswith("content-"):
                continue
            if _needs_modern_header(name, value):
                return True
    return False


def parse_email_modern(raw: bytes) -> ParsedEmail:
    """parse_email with the modern policy, whatever the mail (the full parse)."""
    parsed = ParsedEmail()
    message: Message
    try:
        message = BytesParser(policy=policy.default).parsebytes(raw)
    except Exception as error:
        parsed.problems.append(f"modern parser failed: {error}")
        message = BytesParser(policy=policy.compat32).parsebytes(raw)
    return _read(message, parsed)


def _read(message: Message, parsed: ParsedEmail) -> ParsedEmail:
    problems = parsed.problems
    parsed.message_id = next(iter(_message_ids(_header(message, "Message-ID", problems))), "")
    parsed.in_reply_to = _message_ids(_header(message, "In-Reply-To", problems))
    parsed.references = _message_ids(_header(message, "References", problems))[-100:]
    parsed.subject = _header(message, "Subject", problems)[:998]
    name, address = parseaddr(_header(message, "From", problems))
    parsed.from_name = " ".join(name.split())[:200]
    address = address.strip().lower()
    parsed.from_address = address if "@" in address and len(address) <= MAX_ADDRESS_LENGTH else ""
    parsed.reply_to = next(iter(_addresses(_header(message, "Reply-To", problems))), "")
    parsed.to = _addresses(_header(message, "To", problems))
    parsed.cc = _addresses(_header(message, "Cc", problems))
    parsed.delivered_to = _addresses(
        _header(message, "Delivered-To", problems)
        + ", "
        + _header(message, "X-Original-To", problems)
    )
    parsed.auto_submitted = _header(message, "Auto-Submitted", problems).lower().split(";")[0]
    parsed.precedence = _header(message, "Precedence", problems).lower().strip()
    parsed.list_id = _header(message, "List-Id", problems)
    parsed.has_autoreply_header = any(
        _header(message, name, problems) for name in ("X-Autoreply", "X-Autorespond")
    )
    try:
        _walk_body(message, parsed)
    except Exception as error:
        problems.append(f"body: {error}")
    try:
        parsed.bounce = _bounce(message, parsed)
    except Exception as error:
        problems.append(f"delivery report: {error}")
    _make_storable(parsed)
    return parsed


def _storable(text: str) -> str:
    """Postgres text takes neither NUL nor lone surrogates (8-bit bytes the parser kept as
    they came, in headers read raw); those bytes are read as UTF-8, the rest as U+FFFD."""
    text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        try:
            return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        except UnicodeEncodeError:
            return text.encode("utf-8", "replace").decode("utf-8")
    return text


def _make_storable(parsed: ParsedEmail) -> None:
    for item in (parsed, parsed.bounce, *parsed.attachments):
        if item is None:
            continue
        for spec in fields(item):
            value = getattr(item, spec.name)
            if isinstance(value, str):
                setattr(item, spec.name, _storable(value))
            elif isinstance(value, list) and spec.name != "attachments":
                setattr(item, spec.name, [_storable(v) if isinstance(v, str) else v for v in value])


def as_email_message(raw: bytes) -> EmailMessage:
    """The raw bytes as an EmailMessage (for tests and tools)."""
    return BytesParser(policy=policy.default).parsebytes(raw)
