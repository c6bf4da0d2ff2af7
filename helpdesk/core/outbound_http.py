"""Outbound HTTP to an address a tenant's admin typed in (a webhook's URL, a single sign-on
provider, a ticket system), only ever to a public address.

Such a URL could name the services around the help desk (its database, a cloud's metadata
endpoint) or a name that resolves to them. Unless the operator allows private targets
(HELPDESK_OUTBOUND_ALLOW_PRIVATE_HOSTS, or the older HELPDESK_WEBHOOK_ALLOW_PRIVATE_HOSTS),
every address the host resolves to must be public. The name is resolved once, and the
connection goes to an address that was checked, never to the name again: a DNS server that
answers a public address to the check and a private one to the connection (DNS rebinding)
gets nowhere. HTTPS still sends the host name (SNI) and verifies the certificate against
it, and the Host header is the URL's.

Two ways in, one check:

- `session()`: a `requests.Session` whose every request (each redirect hop included, when
  the caller follows redirects) is resolved, checked and pinned by `PinnedAdapter`.
  Environment proxies and .netrc are ignored (`trust_env` off): a proxy would connect to
  the name itself.
- `resolve_checked()` and `open_connection()`: for callers speaking HTTP through
  `http.client` themselves (the webhook sender).

Refusals are `DomainError`s: `OutboundHostNotFound` (the name does not resolve, or the URL
is unusable) and `OutboundTargetRefused` (a loopback, private, link-local or otherwise
non-public address). Through `session()` they come out of the request call itself, before
any connection is made; they are not `requests.RequestException`s.
"""

from __future__ import annotations

import contextlib
import contextvars
import ipaddress
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from helpdesk.core.errors import DomainError

SETTING = "HELPDESK_OUTBOUND_ALLOW_PRIVATE_HOSTS"
DEPRECATED_SETTING = "HELPDESK_WEBHOOK_ALLOW_PRIVATE_HOSTS"
# Keyword arguments only an HTTPS pool takes (what urllib3's PoolManager drops for http).
_TLS_KEYWORDS = ("cert_reqs", "ca_certs", "ca_cert_dir", "cert_file", "key_file", "ssl_context")


class OutboundHostNotFound(DomainError):
    code = "outbound_host_not_found"
    message = "The host cannot be found."


class OutboundTargetRefused(DomainError):
    code = "outbound_target_refused"
    message = "The host is a loopback or private address; only public addresses are called."


def allow_private_hosts() -> bool:
    """Whether the operator lets admins' URLs reach loopback and private addresses (on
    premises, development, tests). The webhook-era name still counts (deprecated)."""
    return bool(getattr(settings, SETTING, False) or getattr(settings, DEPRECATED_SETTING, False))


# IPv6 prefixes that carry an IPv4 address in their low 32 bits, which a translator on the
# way (NAT64, SIIT, 6to4 relays) reaches: the check is about that IPv4 address.
_IPV4_CARRYING = (
    ipaddress.IPv6Network("64:ff9b::/96"),  # NAT64, well-known prefix (RFC 6052)
    ipaddress.IPv6Network("64:ff9b:1::/48"),  # NAT64, local use (RFC 8215)
    ipaddress.IPv6Network("::ffff:0:0:0/96"),  # IPv4-translated (RFC 2765)
)


def is_public(address: str) -> bool:
    """Whether an IP address is one the internet routes to anyone (not loopback, private,
    link-local, shared, reserved, documentation, multicast). An IPv6 address standing for
    an IPv4 one (mapped, NAT64, translated, 6to4) is judged by that IPv4 address."""
    parsed: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(address)
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            parsed = parsed.ipv4_mapped
        elif parsed.sixtofour is not None:
            parsed = parsed.sixtofour
        elif any(parsed in network for network in _IPV4_CARRYING):
            parsed = ipaddress.IPv4Address(int(parsed) & 0xFFFFFFFF)
    return parsed.is_global and not parsed.is_multicast


# --- An overall deadline -----------------------------------------------------------------


class Deadline:
    """See `deadline()`. `expired` says whether it fired."""

    def __init__(self) -> None:
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self.expired:  # opened after it fired
                _shut(sock)

    def fire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # closed meanwhile
        sock.shutdown(socket.SHUT_RDWR)


_current_deadline: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar(
    "outbound_http_deadline", default=None
)


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[Deadline]:
    """Every connection made inside the block (by `session()`, or given to `watch_socket`)
    is shut down `seconds` after the block began, whatever it is waiting for. A socket's
    timeout bounds each read only: a peer trickling its headers or body a byte at a time,
    each within it, would otherwise hold a worker as long as it likes. What was waiting
    then fails as a broken connection; `Deadline.expired` tells the two apart."""
    state = Deadline()
    timer = threading.Timer(seconds, state.fire)
    timer.daemon = True
    token = _current_deadline.set(state)
    timer.start()
    try:
        yield state
    finally:
        timer.cancel()
        _current_deadline.reset(token)


def watch_socket(sock: socket.socket | None) -> None:
    """Put a connected socket (the TLS one, once wrapped) under the current deadline."""
    current = _current_deadline.get()
    if current is not None and sock is not None:
        current.watch(sock)


def resolve_checked(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (each once, in the resolver's order), all of them
    checked. Raises OutboundHostNotFound when it does not resolve, OutboundTargetRefused
    when one of them is not public (unless the operator allows private targets)."""
    if not host:
        raise OutboundHostNotFound("The URL has no host.")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise OutboundHostNotFound(f"The host {host} cannot be found.") from error
    addresses = list(dict.fromkeys(str(info[4][0]).split("%", 1)[0] for info in infos))
    if not addresses:
        raise OutboundHostNotFound(f"The host {host} cannot be found.")
    if not allow_private_hosts():
        for address in addresses:
            if not is_public(address):
                raise OutboundTargetRefused(
                    f"{host} is a loopback or private address ({address}); only public"
                    f" addresses are called (the operator can allow private ones with"
                    f" {SETTING}=1).",
                    host=host,
                    address=address,
                )
    return addresses


def url_port(url: str) -> tuple[str, int]:
    """The URL's host and port (the scheme's default when it names none). Raises
    OutboundHostNotFound for a URL without a host or with a bad port."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise OutboundHostNotFound(f"The URL is not valid: {error}.") from error
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise OutboundHostNotFound("The URL is not an http(s) URL with a host.")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def check_url(url: str) -> list[str]:
    """The checked addresses of the URL's host. Raises OutboundHostNotFound,
    OutboundTargetRefused."""
    host, port = url_port(url)
    return resolve_checked(host, port)


def open_connection(addresses: list[str], port: int, timeout: float | None) -> socket.socket:
    """A TCP connection to the first of `addresses` (checked IP addresses) that accepts
    one: no name is looked up on the way. Raises OSError (the last one's) when none does."""
    last: OSError = OSError("no address to connect to")
    for address in addresses:
        family = socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.connect((address, port))
        except OSError as error:
            sock.close()
            last = error
            continue
        return sock
    raise last


# --- requests ----------------------------------------------------------------------------


class _PinnedConnectionMixin:
    """A urllib3 connection that opens its socket to checked addresses, while `host` (the
    Host header, SNI and the certificate check) stays the URL's name."""

    host: str
    port: int
    timeout: Any
    pinned_addresses: tuple[str, ...]

    def _new_conn(self) -> socket.socket:
        timeout = self.timeout if isinstance(self.timeout, (int, float)) else None
        try:
            return open_connection(list(self.pinned_addresses), self.port, timeout)
        except TimeoutError as error:
            raise ConnectTimeoutError(
                self, f"Connection to {self.host} timed out. (connect timeout={timeout})"
            ) from error
        except OSError as error:
            raise NewConnectionError(
                self,  # type: ignore[arg-type]
                f"Failed to establish a new connection: {error}",
            ) from error

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]  # HTTPConnection's, after this mixin
        watch_socket(getattr(self, "sock", None))


class _PinnedHTTPConnection(_PinnedConnectionMixin, HTTPConnection):
    def __init__(self, *args: Any, pinned_addresses: tuple[str, ...], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pinned_addresses = pinned_addresses


class _PinnedHTTPSConnection(_PinnedConnectionMixin, HTTPSConnection):
    def __init__(self, *args: Any, pinned_addresses: tuple[str, ...], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pinned_addresses = pinned_addresses


class _PinnedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _PinnedHTTPConnection


class _PinnedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _PinnedHTTPSConnection


class PinnedAdapter(HTTPAdapter):
    """Resolves each request's host once, checks every address (`resolve_checked`) and
    connects to a checked one. Pools are kept per host, port and checked addresses, and
    closed with the adapter. Proxies are never used."""

    def __init__(self) -> None:
        super().__init__(max_retries=0)
        self._pools: dict[tuple[str, str, int, tuple[str, ...]], HTTPConnectionPool] = {}

    def get_connection_with_tls_context(
        self,
        request: requests.PreparedRequest,
        verify: bool | str,
        proxies: Mapping[str, str] | None = None,
        cert: Any = None,
    ) -> HTTPConnectionPool:
        host_params, pool_kwargs = self.build_connection_pool_key_attributes(request, verify, cert)
        scheme = str(host_params["scheme"])
        host, port = url_port(str(request.url))
        addresses = tuple(resolve_checked(host, port))
        key = (scheme, host, port, addresses)
        pool = self._pools.get(key)
        if pool is None:
            pool_class: Callable[..., HTTPConnectionPool]
            if scheme == "https":
                pool_class = _PinnedHTTPSConnectionPool
            else:
                pool_class = _PinnedHTTPConnectionPool
                pool_kwargs = {k: v for k, v in pool_kwargs.items() if k not in _TLS_KEYWORDS}
            pool = pool_class(host, port, maxsize=1, pinned_addresses=addresses, **pool_kwargs)
            self._pools[key] = pool
        return pool

    def close(self) -> None:
        super().close()
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()


def mount(client: requests.Session) -> requests.Session:
    """Make an existing session (authlib's OAuth2 session, say) call only checked
    addresses: a `PinnedAdapter` for http and https, and no environment proxies or
    .netrc. Pass `allow_redirects=False` to its calls to follow none."""
    client.trust_env = False
    adapter = PinnedAdapter()
    client.mount("http://", adapter)
    client.mount("https://", adapter)
    return client


class PinnedSession(requests.Session):
    """A requests session that calls only checked addresses (see `session`)."""

    def __init__(self, *, max_redirects: int = 0) -> None:
        super().__init__()
        self.follow_redirects = max_redirects > 0
        # requests reads the limit even for a redirect it does not follow.
        self.max_redirects = max(max_redirects, 1)
        mount(self)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        if not self.follow_redirects:
            kwargs["allow_redirects"] = False
        return super().send(request, **kwargs)


def session(*, max_redirects: int = 0) -> requests.Session:
    """A requests session that calls only checked addresses (every hop of a redirect is
    resolved and checked again). A redirect is answered as it came (a 3xx response) unless
    `max_redirects` says how many to follow. Use it as a context manager, so its
    connections are closed."""
    return PinnedSession(max_redirects=max_redirects)
