"""Brute-force and abuse limits: counters in Redis, a 429 with Retry-After past the limit.

Each kind of limit has its rate in the setting `HELPDESK_RATELIMIT_<KIND>` (from the
environment variable of the same name): `login_account`, `login_ip`,
`password_reset_address`, `password_reset_ip`, `api_token_ip`, `public_form_ip`,
`public_form_address`. The
`limits` library keeps a moving window per key in Redis (atomic Lua scripts), so a refused
attempt is not counted and the oldest attempt leaves the window on time: a lockout always
ends, however long someone keeps trying.

Keys: addresses (a login is one user and one password on every tenant) and client IPs
are counted across all tenants; IPv6 clients are counted by their /64, which one host
usually has to itself.

Two ways to use a limit:
- `hit(kind, key)` counts an attempt and says how long to wait when it is over the limit
  (password reset requests, public form posts).
- `retry_after(kind, key)` only asks, and `hit` is called for failures alone (logins, API
  tokens), so people who get their password right are never counted. Asking first and
  counting afterwards lets parallel attempts all pass the question before any is counted,
  so a password check also runs inside `one_at_a_time(kind, key)`: one attempt per account
  at a time, and a second one meanwhile is refused.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import ipaddress
import logging
import math
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from limits import RateLimitItem, parse, storage, strategies

logger = logging.getLogger(__name__)

KINDS = (
    "login_account",
    "login_ip",
    "password_reset_address",
    "password_reset_ip",
    "api_token_ip",
    "public_form_ip",
    "public_form_address",
)


@functools.cache
def _limiter(redis_url: str) -> strategies.MovingWindowRateLimiter:
    # One client (and connection pool) per process; Redis is the cache's own server.
    return strategies.MovingWindowRateLimiter(storage.RedisStorage(redis_url))


def _limit(kind: str) -> tuple[strategies.MovingWindowRateLimiter, RateLimitItem, str]:
    if kind not in KINDS:
        raise ValueError(f"unknown rate limit {kind!r}")
    item = parse(getattr(settings, f"HELPDESK_RATELIMIT_{kind.upper()}"))
    return _limiter(settings.REDIS_URL), item, f"{settings.HELPDESK_RATELIMIT_KEY_PREFIX}:{kind}"


def _seconds_until(reset_time: float) -> int:
    return max(1, math.ceil(reset_time - time.time()))


def retry_after(kind: str, key: str) -> int:
    """Seconds until `key` may try `kind` again: 0 while it is under the limit. Counts
    nothing."""
    limiter, item, namespace = _limit(kind)
    if limiter.test(item, namespace, key):
        return 0
    return _seconds_until(limiter.get_window_stats(item, namespace, key).reset_time)


def hit(kind: str, key: str) -> int:
    """Count one attempt of `key` at `kind`; returns 0 when it was within the limit, else
    the seconds to wait (the refused attempt is not counted). The attempt that uses up the
    limit is logged as a lockout, once per lockout."""
    limiter, item, namespace = _limit(kind)
    if not limiter.hit(item, namespace, key):
        return _seconds_until(limiter.get_window_stats(item, namespace, key).reset_time)
    stats = limiter.get_window_stats(item, namespace, key)
    if stats.remaining == 0:
        logger.warning(
            "Rate limit %s reached for %s (%s): refused for %d seconds",
            kind,
            key,
            item,
            _seconds_until(stats.reset_time),
        )
    return 0


def clear(kind: str, key: str) -> None:
    """Forget the attempts of `key` at `kind` (a password reset ends a login lockout)."""
    limiter, item, namespace = _limit(kind)
    limiter.clear(item, namespace, key)


# Longer than any password check takes; a process that dies holding it frees it by then.
IN_FLIGHT_SECONDS = 10
# What a refused concurrent attempt is told to wait: the other one is done by then.
IN_FLIGHT_RETRY_SECONDS = 2


@contextlib.contextmanager
def one_at_a_time(kind: str, key: str) -> Iterator[bool]:
    """Claim `key`'s turn at `kind` (a Redis key set only if absent) for the block; yields
    False, claiming nothing, while another attempt holds it. Check `retry_after`, try, and
    `hit` on failure inside the block: the next attempt then sees this one counted."""
    if kind not in KINDS:
        raise ValueError(f"unknown rate limit {kind!r}")
    lock = f"ratelimit-turn:{kind}:{hashlib.sha256(key.encode()).hexdigest()}"
    if not cache.add(lock, 1, timeout=IN_FLIGHT_SECONDS):
        yield False
        return
    try:
        yield True
    finally:
        cache.delete(lock)


@functools.cache
def _networks(
    values: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(value, strict=False) for value in values)


def _address(raw: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(raw.strip())
    except ValueError:
        return None


def _connecting_address(request: HttpRequest) -> str:
    """REMOTE_ADDR, or the X-Forwarded-For entry that stands for the client when the
    connection comes from a trusted proxy (HELPDESK_TRUSTED_PROXIES): the rightmost entry
    that is not itself a trusted proxy. Entries further left were written by the client and
    could be anything; a direct client's X-Forwarded-For is ignored altogether."""
    remote = request.META.get("REMOTE_ADDR") or ""
    trusted = _networks(tuple(settings.HELPDESK_TRUSTED_PROXIES))
    address = _address(remote)
    if not trusted or address is None:
        return remote
    if not any(address in network for network in trusted):
        return remote
    for entry in reversed(request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")):
        forwarded = _address(entry)
        if forwarded is None:
            # Not an address: no trusted proxy wrote it, so the last trusted hop is the
            # best we know.
            break
        address = forwarded
        if not any(forwarded in network for network in trusted):
            break
    return str(address)


def client_address(request: HttpRequest) -> str:
    """The client's whole address (for the audit log), found as `client_ip` finds it."""
    return _connecting_address(request)


def client_ip(request: HttpRequest) -> str:
    """The client's address, IPv6 cut to its /64: the connection's own address, or from
    X-Forwarded-For only when that connection comes from a trusted proxy."""
    raw = _connecting_address(request)
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return raw[:64] or "unknown"
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False).network_address)
    return str(address)


def _wait_text(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} seconds"
    return f"{math.ceil(seconds / 60)} minutes"


def too_many_requests(
    request: HttpRequest, *, retry_after: int, message: str = "", reset_link: bool = False
) -> HttpResponse:
    """The 429 answer with Retry-After: the API's error envelope on API paths and for
    token requests, else a page saying how long to wait (with the password reset link when
    `reset_link`, for a locked login)."""
    headers = {"Retry-After": str(retry_after)}
    message = message or "Too many requests."
    token_request = request.headers.get("Authorization", "").startswith("Token ")
    if request.path.startswith("/api/") or token_request:
        return JsonResponse(
            {
                "error": {
                    "code": "throttled",
                    "message": f"{message} Expected available in {retry_after} seconds.",
                }
            },
            status=429,
            headers=headers,
        )
    response = render(
        request,
        "errors/too_many_requests.html",
        {"message": message, "wait": _wait_text(retry_after), "reset_link": reset_link},
        status=429,
    )
    response["Retry-After"] = headers["Retry-After"]
    return response


_Response = TypeVar("_Response", bound=HttpResponseBase)


def limit_public_form(view: Callable[..., _Response]) -> Callable[..., _Response | HttpResponse]:
    """A public (no login) form's view: its POSTs count against the client's IP
    (`public_form_ip`, one budget for all public forms), and past the limit get a 429."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> _Response | HttpResponse:
        if request.method == "POST":
            wait = hit("public_form_ip", client_ip(request))
            if wait:
                return too_many_requests(
                    request,
                    retry_after=wait,
                    message="Too many forms were sent from your network.",
                )
        return view(request, *args, **kwargs)

    return wrapped
