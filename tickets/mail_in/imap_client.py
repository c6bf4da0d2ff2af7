"""An IMAP client for mailbox settings: connect with the mailbox's connection security, log
in, open folders, and check a mailbox's settings without changing anything. The poller
(tickets.mail_in.imap) fetches mail through it."""

from __future__ import annotations

import contextlib
import imaplib
import ipaddress
import socket
import ssl
from typing import Any

from django.conf import settings

from departments.models import ImapSecurity, Mailbox
from helpdesk.core.crypto import DecryptionFailed, decrypt

TIMEOUT_SECONDS = 30
SERVER_ERRORS = (OSError, imaplib.IMAP4.error)  # refused, timeouts, TLS, BAD, dropped


class ImapFailure(Exception):
    """A server or settings problem, worded for the mailbox admin."""


def describe(value: Any) -> str:
    """imaplib reports server text as bytes, lists of bytes, or exceptions holding either."""
    if isinstance(value, ssl.SSLCertVerificationError):
        return f"certificate not trusted ({value.verify_message})"
    if isinstance(value, socket.gaierror):
        return "no such host (the name does not resolve)"
    if isinstance(value, ConnectionRefusedError):
        return "connection refused (nothing listens on that port)"
    if isinstance(value, TimeoutError):
        return "no answer (timed out)"
    if isinstance(value, ssl.SSLError):
        return f"TLS failed ({value.reason or value})"
    if isinstance(value, BaseException):
        value = value.args[0] if value.args else type(value).__name__
    if isinstance(value, list):
        value = value[-1] if value else b""
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def quote(folder: str) -> str:
    # imaplib sends mailbox names as they are; a name with a space must be quoted.
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def ok(reply: tuple[str, list[Any]], what: str) -> list[Any]:
    """The reply's data; raises ImapFailure on NO (imaplib raises only on BAD)."""
    typ, data = reply
    if typ != "OK":
        raise ImapFailure(f"{what}: {describe(data)}")
    return data


def refuse_private_host(host: str) -> None:
    """Tenant admins choose the IMAP host: unless the operator allows it
    (HELPDESK_IMAP_ALLOW_PRIVATE_HOSTS), a name that resolves to a loopback, private,
    link-local or other non-public address is refused, so nobody can reach the services
    around the help desk (its database, cloud metadata) through a mailbox's settings."""
    if settings.HELPDESK_IMAP_ALLOW_PRIVATE_HOSTS:
        return
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)}
    except (socket.gaierror, UnicodeError):
        return  # connecting says "no such host"
    for address in sorted(addresses):
        ip = ipaddress.ip_address(str(address).split("%", 1)[0])
        if not ip.is_global:
            raise ImapFailure(
                f"{host} is a private or local address ({ip}); the IMAP server must be reachable"
                " on the internet (the operator can allow private servers with"
                " HELPDESK_IMAP_ALLOW_PRIVATE_HOSTS=1)"
            )


def connect(*, host: str, port: int, security: str, username: str, password: str) -> imaplib.IMAP4:
    """A logged-in client over `security` (ImapSecurity). STARTTLS is required when chosen:
    a server that does not offer it gets no password. Certificates are verified against
    the system's trust store (SSL_CERT_FILE adds a private CA). Raises ImapFailure."""
    if not host:
        raise ImapFailure("no IMAP server is set")  # imaplib would quietly use localhost
    refuse_private_host(host)
    client: imaplib.IMAP4
    try:
        if security == ImapSecurity.SSL:
            context = ssl.create_default_context()
            client = imaplib.IMAP4_SSL(host, port, ssl_context=context, timeout=TIMEOUT_SECONDS)
        else:
            client = imaplib.IMAP4(host, port, timeout=TIMEOUT_SECONDS)
    except imaplib.IMAP4.error as error:
        # Not an IMAP greeting. What the service said is not shown: a tenant's admin could
        # otherwise read the banners of services reachable from this host.
        raise ImapFailure(
            f"{host}:{port} answered, but not as an IMAP server (wrong port?)"
        ) from error
    except SERVER_ERRORS as error:
        raise ImapFailure(f"cannot connect to {host}:{port}: {describe(error)}") from error
    if security == ImapSecurity.STARTTLS:
        if "STARTTLS" not in client.capabilities:
            drop(client)
            raise ImapFailure(f"{host}:{port} does not offer STARTTLS; the password was not sent")
        try:
            client.starttls(ssl_context=ssl.create_default_context())
        except SERVER_ERRORS as error:
            drop(client)
            raise ImapFailure(f"STARTTLS with {host}:{port} failed: {describe(error)}") from error
    try:
        client.login(username, password)
    except SERVER_ERRORS as error:
        logout(client)
        raise ImapFailure(f"login failed for {username!r}: {describe(error)}") from error
    return client


def drop(client: imaplib.IMAP4) -> None:
    """Close the connection without a word (a failed TLS handshake may have closed it)."""
    with contextlib.suppress(OSError):
        client.shutdown()


def logout(client: imaplib.IMAP4) -> None:
    try:
        client.logout()
    except SERVER_ERRORS:
        client.shutdown()


def select(client: imaplib.IMAP4, folder: str, *, readonly: bool = False) -> tuple[int, int]:
    """Open the folder; returns its UIDVALIDITY and UIDNEXT (0 when not sent)."""
    ok(client.select(quote(folder), readonly=readonly), f"cannot open folder {folder!r}")
    validity = client.response("UIDVALIDITY")[1][0]
    uid_next = client.response("UIDNEXT")[1][0]
    return int(validity or 0), int(uid_next or 0)


def check_settings(
    *,
    host: str,
    port: int,
    security: str,
    username: str,
    password: str,
    folder: str,
    archive_folder: str = "",
    mailbox: Mailbox | None = None,
) -> str:
    """Log in and open the folder (and the archive folder, if given) without changing
    anything. Returns what went wrong, worded for the admin, or "" when the settings work.
    With `mailbox`, an empty password means its stored one (its form never shows it)."""
    if not password and mailbox is not None and mailbox.imap_password_encrypted:
        try:
            password = decrypt(mailbox.imap_password_encrypted)
        except DecryptionFailed:
            return "cannot decrypt the stored IMAP password; enter it again"
    client: imaplib.IMAP4 | None = None
    try:
        client = connect(
            host=host, port=port, security=security, username=username, password=password
        )
        select(client, folder, readonly=True)
        if archive_folder:
            reply = client.status(quote(archive_folder), "(MESSAGES)")
            ok(reply, f"cannot open archive folder {archive_folder!r}")
    except ImapFailure as failure:
        return str(failure)
    except SERVER_ERRORS as failure:
        return f"IMAP error: {describe(failure)}"
    finally:
        if client is not None:
            logout(client)
    return ""
