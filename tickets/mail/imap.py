"""IMAP polling: fetch a mailbox's new mail by UID and store it through the durable intake.

A message is changed on the server (moved to the archive folder, or flagged \\Seen) only
after the transaction holding its InboundEmail row has committed, so a crash or a rollback
leaves it as it was and a later poll fetches it again; the intake dedupes redeliveries.
"""

from __future__ import annotations

import contextlib
import imaplib
import ssl
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.db import DatabaseError, transaction
from django.utils import timezone

from departments.models import ImapSecurity, Mailbox
from helpdesk.core.crypto import DecryptionFailed, decrypt
from helpdesk.tenancy.context import tenant_context
from tickets.mail import intake

BATCH_SIZE = 100  # per poll: the batch is one transaction inside a time-limited task
TIMEOUT_SECONDS = 30
SERVER_ERRORS = (OSError, imaplib.IMAP4.error)  # refused, timeouts, TLS, BAD, dropped


@dataclass(frozen=True)
class PollResult:
    """What one poll did: messages fetched, new InboundEmail rows, and the error or ""."""

    fetched: int = 0
    stored: int = 0
    error: str = ""


class ImapFailure(Exception):
    """A server or settings problem, worded for the mailbox admin."""


def _text(value: Any) -> str:
    """imaplib reports server text as bytes, lists of bytes, or exceptions holding either."""
    if isinstance(value, ssl.SSLCertVerificationError):
        return f"certificate not trusted ({value.verify_message})"
    if isinstance(value, ssl.SSLError):
        return f"TLS failed ({value.reason or value})"
    if isinstance(value, BaseException):
        value = value.args[0] if value.args else type(value).__name__
    if isinstance(value, list):
        value = value[-1] if value else b""
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _quote(folder: str) -> str:
    # imaplib sends mailbox names as they are; a name with a space must be quoted.
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _ok(reply: tuple[str, list[Any]], what: str) -> list[Any]:
    """The reply's data; raises ImapFailure on NO (imaplib raises only on BAD)."""
    typ, data = reply
    if typ != "OK":
        raise ImapFailure(f"{what}: {_text(data)}")
    return data


def _open(*, host: str, port: int, security: str, username: str, password: str) -> imaplib.IMAP4:
    """A logged-in client over `security` (ImapSecurity). STARTTLS is required when chosen:
    a server that does not offer it gets no password. Certificates are verified against
    the system's trust store (SSL_CERT_FILE adds a private CA). Raises ImapFailure."""
    if not host:
        raise ImapFailure("no IMAP server is set")  # imaplib would quietly use localhost
    try:
        if security == ImapSecurity.SSL:
            context = ssl.create_default_context()
            client = imaplib.IMAP4_SSL(host, port, ssl_context=context, timeout=TIMEOUT_SECONDS)
        else:
            client = imaplib.IMAP4(host, port, timeout=TIMEOUT_SECONDS)
    except SERVER_ERRORS as error:
        raise ImapFailure(f"cannot connect to {host}:{port}: {_text(error)}") from error
    if security == ImapSecurity.STARTTLS:
        if "STARTTLS" not in client.capabilities:
            _drop(client)
            raise ImapFailure(f"{host}:{port} does not offer STARTTLS; the password was not sent")
        try:
            client.starttls(ssl_context=ssl.create_default_context())
        except SERVER_ERRORS as error:
            _drop(client)
            raise ImapFailure(f"STARTTLS with {host}:{port} failed: {_text(error)}") from error
    try:
        client.login(username, password)
    except SERVER_ERRORS as error:
        _close(client)
        raise ImapFailure(f"login failed for {username!r}: {_text(error)}") from error
    return client


def _drop(client: imaplib.IMAP4) -> None:
    """Close the connection without a word (a failed TLS handshake may have closed it)."""
    with contextlib.suppress(OSError):
        client.shutdown()


def _close(client: imaplib.IMAP4) -> None:
    try:
        client.logout()
    except SERVER_ERRORS:
        client.shutdown()


def _select(client: imaplib.IMAP4, folder: str, *, readonly: bool = False) -> tuple[int, int]:
    """Open the folder; returns its UIDVALIDITY and UIDNEXT (0 when not sent)."""
    _ok(client.select(_quote(folder), readonly=readonly), f"cannot open folder {folder!r}")
    validity = client.response("UIDVALIDITY")[1][0]
    uid_next = client.response("UIDNEXT")[1][0]
    return int(validity or 0), int(uid_next or 0)


def _search(client: imaplib.IMAP4, *criteria: str) -> list[int]:
    data = _ok(client.uid("SEARCH", *criteria), "search failed")
    return sorted(int(uid) for uid in (data[0] or b"").split())


def _fetch(client: imaplib.IMAP4, uid: int) -> bytes | None:
    """The raw message, leaving \\Seen alone; None when it was expunged meanwhile."""
    data = _ok(client.uid("FETCH", str(uid), "(BODY.PEEK[])"), f"cannot fetch UID {uid}")
    for item in data:  # unsolicited FLAGS updates of other messages may come along
        if isinstance(item, tuple) and b"BODY[]" in item[0]:
            return bytes(item[1])
    return None


def _save(mailbox: Mailbox, **fields: Any) -> None:
    Mailbox.objects.filter(id=mailbox.id).update(**fields)
    for name, value in fields.items():
        setattr(mailbox, name, value)


def poll_mailbox(*, mailbox: Mailbox, batch_size: int = BATCH_SIZE) -> PollResult:
    """Store up to `batch_size` new messages of the mailbox's IMAP folder as InboundEmail
    rows. Run it inside the mailbox's tenant context.

    New means a UID above `imap_last_uid` under the same UIDVALIDITY. When UIDVALIDITY is
    new (first poll, folder recreated) only UNSEEN mail is fetched, and UID tracking starts
    once all of it is stored. Stored messages are moved or flagged \\Seen after the commit
    (the connection stays open until then; a rollback drops it unused). Server and
    settings problems go to `imap_last_error` and the result, never raised.
    """
    fetched = stored = 0
    done: list[int] = []
    error = ""
    client: imaplib.IMAP4 | None = None
    try:
        recipient = intake.find_inbound_address(mailbox.address)
        if recipient is None or recipient.mailbox_id != mailbox.id:
            raise ImapFailure(f"{mailbox.address} is not registered as an inbound address")
        try:
            password = decrypt(mailbox.imap_password_encrypted)
        except DecryptionFailed as failure:
            raise ImapFailure("cannot decrypt the IMAP password; enter it again") from failure
        client = _open(
            host=mailbox.imap_host,
            port=mailbox.imap_port,
            security=mailbox.imap_security,
            username=mailbox.imap_username,
            password=password,
        )
        validity, uid_next = _select(client, mailbox.imap_folder)
        resetting = validity != mailbox.imap_uid_validity
        if resetting:
            # Where the folder ends now: mail already seen there stays out of later polls.
            last_uid = uid_next - 1 if uid_next else max(_search(client, "ALL"), default=0)
            uids = _search(client, "UNSEEN")
        else:
            last_uid = mailbox.imap_last_uid
            # "n:*" always matches the highest UID, even one below n.
            uids = [u for u in _search(client, "UID", f"{last_uid + 1}:*") if u > last_uid]
        for uid in uids[:batch_size]:
            raw = _fetch(client, uid)
            if raw is not None:
                fetched += 1
                try:
                    with transaction.atomic():  # a row that fails must not undo the others
                        accepted = intake.store_inbound_email(
                            raw=raw,
                            recipient=recipient,
                            envelope_from="",
                            envelope_to=[mailbox.address],
                            channel="imap",
                        )
                except (DatabaseError, ValueError) as failure:
                    raise ImapFailure(f"cannot store message UID {uid}: {failure}") from failure
                stored += accepted.created
                done.append(uid)
            if not resetting:
                _save(mailbox, imap_last_uid=uid)
        if resetting and len(uids) <= batch_size:
            _save(mailbox, imap_uid_validity=validity, imap_last_uid=max([last_uid, *uids]))
    except ImapFailure as failure:
        error = str(failure)
    except SERVER_ERRORS as failure:
        error = f"IMAP error: {_text(failure)}"
    except BaseException:  # a database error, say: no marking, but log out
        if client is not None:
            _close(client)
        raise
    _save(mailbox, imap_last_polled_at=timezone.now(), imap_last_error=error)
    if client is not None and done:
        transaction.on_commit(partial(_mark_stored, client, mailbox, done), robust=True)
    elif client is not None:
        _close(client)
    return PollResult(fetched=fetched, stored=stored, error=error)


def _mark_stored(client: imaplib.IMAP4, mailbox: Mailbox, uids: list[int]) -> None:
    """After the commit: move the stored messages to the archive folder, or flag them seen.
    The connection still has the folder selected, so the UIDs are those we fetched."""
    uid_set = ",".join(str(uid) for uid in uids)
    archive = mailbox.imap_archive_folder
    try:
        if not archive:
            _ok(client.uid("STORE", uid_set, "+FLAGS.SILENT", r"(\Seen)"), "STORE")
        else:
            # imaplib keeps the pre-login capabilities, which often lack MOVE.
            capabilities = set(_text(client.capability()[1]).upper().split())
            if "MOVE" in capabilities:
                _ok(client.uid("MOVE", uid_set, _quote(archive)), "MOVE")
            else:  # step by step: a failed COPY must stop before anything is deleted
                _ok(client.uid("COPY", uid_set, _quote(archive)), "COPY")
                _ok(client.uid("STORE", uid_set, "+FLAGS.SILENT", r"(\Deleted)"), "STORE")
                # Without UIDPLUS, EXPUNGE also removes mail others flagged \Deleted.
                expunge = "UIDPLUS" in capabilities
                _ok(client.uid("EXPUNGE", uid_set) if expunge else client.expunge(), "EXPUNGE")
    except (ImapFailure, *SERVER_ERRORS) as failure:
        target = f"move them to {archive!r}" if archive else "flag them seen"
        message = f"stored {len(uids)} messages but could not {target}: {_text(failure)}"
        with tenant_context(mailbox.tenant_id):
            _save(mailbox, imap_last_error=message)
    finally:
        _close(client)


def check_imap_settings(
    *,
    host: str,
    port: int,
    security: str,
    username: str,
    password: str,
    folder: str,
    archive_folder: str = "",
) -> str:
    """Log in and open the folder (and the archive folder, if given) without changing
    anything. Returns what went wrong, worded for the admin, or "" when the settings work."""
    client: imaplib.IMAP4 | None = None
    try:
        client = _open(
            host=host, port=port, security=security, username=username, password=password
        )
        _select(client, folder, readonly=True)
        if archive_folder:
            reply = client.status(_quote(archive_folder), "(MESSAGES)")
            _ok(reply, f"cannot open archive folder {archive_folder!r}")
    except ImapFailure as failure:
        return str(failure)
    except SERVER_ERRORS as failure:
        return f"IMAP error: {_text(failure)}"
    finally:
        if client is not None:
            _close(client)
    return ""
