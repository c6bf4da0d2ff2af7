"""One HTTP POST to a webhook's URL, only ever to a public address.

A tenant's admin chooses the URL, so the address check and the connection are
helpdesk.core.outbound_http's, the one guard for every URL admins type in: unless the
operator allows private targets (HELPDESK_OUTBOUND_ALLOW_PRIVATE_HOSTS, or the deprecated
HELPDESK_WEBHOOK_ALLOW_PRIVATE_HOSTS), every address the host resolves to must be public,
and the connection goes to an address that was checked, never to the name again: a DNS
server that answers a public address to the check and a private one to the connection (DNS
rebinding) gets nowhere. HTTPS is verified against the URL's host name all the same.
Redirects are not followed (a 3xx is a failed delivery).
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from django.conf import settings

from automation.errors import InvalidWebhook, WebhookTargetRefused
from helpdesk.core import outbound_http

EXCERPT_CHARS = 1000
READ_LIMIT = 64 * 1024
USER_AGENT = "Helpdesk-Webhooks/1"


@dataclass(frozen=True)
class Outcome:
    """What one attempt got: the status (None when no answer came), how long it took,
    the start of the answer's body, and the failure in words."""

    status: int | None
    milliseconds: int
    excerpt: str
    error: str

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def parse_url(url: str) -> SplitResult:
    """The URL's parts. Raises InvalidWebhook unless it is an absolute http(s) URL with a
    host, without user or password."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidWebhook("The URL is required.")
    if len(url) > 2000:
        raise InvalidWebhook("The URL is at most 2000 characters.")
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - reading it validates the port
    except ValueError as error:
        raise InvalidWebhook(f"The URL is not valid: {error}.") from error
    if parts.scheme not in {"http", "https"}:
        raise InvalidWebhook("The URL must start with https:// or http://.")
    if not parts.hostname:
        raise InvalidWebhook("The URL has no host.")
    if parts.username or parts.password:
        raise InvalidWebhook("The URL may not carry a user name or password.")
    return parts


def _port(parts: SplitResult) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


def resolve(parts: SplitResult) -> list[str]:
    """Every address the URL's host resolves to, each checked. Raises InvalidWebhook when
    it does not resolve, WebhookTargetRefused when one address is not public (unless the
    operator allows private targets)."""
    try:
        return outbound_http.resolve_checked(parts.hostname or "", _port(parts))
    except outbound_http.OutboundHostNotFound as error:
        raise InvalidWebhook(str(error)) from error
    except outbound_http.OutboundTargetRefused as error:
        raise WebhookTargetRefused(str(error)) from error


def check_url(url: str) -> str:
    """The URL, stripped, when a webhook may call it. Raises InvalidWebhook,
    WebhookTargetRefused."""
    parts = parse_url(url)
    resolve(parts)
    return parts.geturl()


def _connect(address: str, port: int, timeout: float | None) -> socket.socket:
    """A TCP connection to the address itself: no name is looked up again on the way."""
    return outbound_http.open_connection([address], port, timeout)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to `address` (checked) while speaking to the URL's host."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = _connect(self.address, self.port, self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """TLS to `address` (checked), verified against the URL's host name."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.address = address

    def connect(self) -> None:
        raw = _connect(self.address, self.port, self.timeout)
        context: ssl.SSLContext = self._context  # type: ignore[attr-defined]
        self.sock = context.wrap_socket(raw, server_hostname=self.host)


def post(url: str, body: bytes, headers: dict[str, str]) -> Outcome:
    """POST `body` to `url` at one of its checked addresses (the first that accepts a
    connection), within HELPDESK_WEBHOOK_TIMEOUT_SECONDS for connecting and for each read
    and twice that in all. Never raises for what the network or the receiver did: the outcome says
    it. Raises InvalidWebhook, WebhookTargetRefused for a URL no longer allowed."""
    parts = parse_url(url)
    addresses = resolve(parts)
    timeout = float(settings.HELPDESK_WEBHOOK_TIMEOUT_SECONDS)
    target = parts.path or "/"
    if parts.query:
        target = f"{target}?{parts.query}"
    host = parts.hostname or ""
    started = time.monotonic()
    with outbound_http.deadline(2 * timeout) as limit:
        outcome = _post_to(addresses, parts, host, target, body, headers, timeout, started)
    if limit.expired:
        late = f"no complete answer within {2 * timeout:g} seconds"
        return Outcome(status=None, milliseconds=_since(started), excerpt="", error=late)
    return outcome


def _post_to(
    addresses: list[str],
    parts: SplitResult,
    host: str,
    target: str,
    body: bytes,
    headers: dict[str, str],
    timeout: float,
    started: float,
) -> Outcome:
    last_error = ""
    for address in addresses:
        connection_class = (
            _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
        )
        connection = connection_class(host, _port(parts), address=address, timeout=timeout)
        try:
            try:
                connection.connect()
            except OSError as error:
                last_error = f"cannot connect to {host} ({address}): {error}"
                continue
            outbound_http.watch_socket(connection.sock)
            try:
                connection.request(
                    "POST",
                    target,
                    body=body,
                    headers={"User-Agent": USER_AGENT, **headers},
                )
                response = connection.getresponse()
                raw = response.read(READ_LIMIT)
            except (OSError, http.client.HTTPException) as error:
                return Outcome(
                    status=None,
                    milliseconds=_since(started),
                    excerpt="",
                    error=f"{type(error).__name__}: {error}"[:500],
                )
            excerpt = raw.decode("utf-8", errors="replace")[:EXCERPT_CHARS]
            status = response.status
            error_text = "" if 200 <= status < 300 else f"the receiver answered {status}"
            return Outcome(
                status=status, milliseconds=_since(started), excerpt=excerpt, error=error_text
            )
        finally:
            connection.close()
    return Outcome(status=None, milliseconds=_since(started), excerpt="", error=last_error[:500])


def _since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
