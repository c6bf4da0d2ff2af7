"""IMAP polling: fetch a mailbox's new mail by UID and store it through the durable intake.

A message is changed on the server (moved to the archive folder, or flagged \\Seen) only
after the transaction holding its InboundEmail row has committed, so a crash or a rollback
leaves it as it was and a later poll fetches it again; the intake dedupes redeliveries.
"""

from __future__ import annotations

import imaplib
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.db import DatabaseError, transaction
from django.utils import timezone

from departments.models import Mailbox
from helpdesk.core.crypto import DecryptionFailed, decrypt
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.context import tenant_context
from tickets.mail_in import intake
from tickets.mail_in.imap_client import (
    SERVER_ERRORS,
    ImapFailure,
    connect,
    describe,
    logout,
    ok,
    quote,
    select,
)

BATCH_SIZE = 100  # per poll: the batch is one transaction inside a time-limited task


@dataclass(frozen=True)
class PollResult:
    """What one poll did: messages fetched, new InboundEmail rows, and the error or ""."""

    fetched: int = 0
    stored: int = 0
    error: str = ""


def _search(client: imaplib.IMAP4, *criteria: str) -> list[int]:
    data = ok(client.uid("SEARCH", *criteria), "search failed")
    return sorted(int(uid) for uid in (data[0] or b"").split())


def _fetch(client: imaplib.IMAP4, uid: int) -> bytes | None:
    """The raw message, leaving \\Seen alone; None when it was expunged meanwhile."""
    data = ok(client.uid("FETCH", str(uid), "(BODY.PEEK[])"), f"cannot fetch UID {uid}")
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
        recipient = tenancy_selectors.mailbox_inbound_address(
            address=mailbox.address, mailbox_id=mailbox.id
        )
        if recipient is None:
            raise ImapFailure(f"{mailbox.address} is not registered as an inbound address")
        try:
            password = decrypt(mailbox.imap_password_encrypted)
        except DecryptionFailed as failure:
            raise ImapFailure("cannot decrypt the IMAP password; enter it again") from failure
        client = connect(
            host=mailbox.imap_host,
            port=mailbox.imap_port,
            security=mailbox.imap_security,
            username=mailbox.imap_username,
            password=password,
        )
        validity, uid_next = select(client, mailbox.imap_folder)
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
        error = f"IMAP error: {describe(failure)}"
    except BaseException:  # a database error, say: no marking, but log out
        if client is not None:
            logout(client)
        raise
    _save(mailbox, imap_last_polled_at=timezone.now(), imap_last_error=error)
    if client is not None and done:
        transaction.on_commit(partial(_mark_stored, client, mailbox, done), robust=True)
    elif client is not None:
        logout(client)
    return PollResult(fetched=fetched, stored=stored, error=error)


def _mark_stored(client: imaplib.IMAP4, mailbox: Mailbox, uids: list[int]) -> None:
    """After the commit: move the stored messages to the archive folder, or flag them seen.
    The connection still has the folder selected, so the UIDs are those we fetched."""
    uid_set = ",".join(str(uid) for uid in uids)
    archive = mailbox.imap_archive_folder
    try:
        if not archive:
            ok(client.uid("STORE", uid_set, "+FLAGS.SILENT", r"(\Seen)"), "STORE")
        else:
            # imaplib keeps the pre-login capabilities, which often lack MOVE.
            capabilities = set(describe(client.capability()[1]).upper().split())
            if "MOVE" in capabilities:
                ok(client.uid("MOVE", uid_set, quote(archive)), "MOVE")
            else:  # step by step: a failed COPY must stop before anything is deleted
                ok(client.uid("COPY", uid_set, quote(archive)), "COPY")
                ok(client.uid("STORE", uid_set, "+FLAGS.SILENT", r"(\Deleted)"), "STORE")
                # Without UIDPLUS, EXPUNGE also removes mail others flagged \Deleted.
                expunge = "UIDPLUS" in capabilities
                ok(client.uid("EXPUNGE", uid_set) if expunge else client.expunge(), "EXPUNGE")
    except (ImapFailure, *SERVER_ERRORS) as failure:
        target = f"move them to {archive!r}" if archive else "flag them seen"
        message = f"stored {len(uids)} messages but could not {target}: {describe(failure)}"
        with tenant_context(mailbox.tenant_id):
            _save(mailbox, imap_last_error=message)
    finally:
        logout(client)
