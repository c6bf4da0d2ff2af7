"""The one HTTP client of integrations: a request to a URL an admin configured, through
helpdesk.core.outbound_http (public addresses only unless the operator allows private ones,
the address pinned, redirects never followed, so a redirect cannot lead to a private host
either), with a time limit and an answer read up to a size limit and no further. Reads no
database."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import requests

from helpdesk.core import outbound_http

USER_AGENT = "Helpdesk-Integrations/1"
# The most of an answer ever read: a tool's "created" answer or a CRM record is far
# smaller; a bigger one is refused rather than read into memory.
MAX_ANSWER_BYTES = 256 * 1024
EXCERPT_CHARS = 1000


@dataclass(frozen=True)
class Answer:
    """What one call got: the status (None when no answer came), the JSON document (None
    when the body was not JSON), the start of the body, how long it took, and what went
    wrong in words (empty when a complete answer came)."""

    status: int | None
    document: Any
    is_json: bool
    excerpt: str
    milliseconds: int
    error: str

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300 and not self.error


def call(
    method: str,
    url: str,
    *,
    headers: dict[str, str],
    body: str | None,
    timeout: float,
) -> Answer:
    """Make the request and read its answer (at most MAX_ANSWER_BYTES, within `timeout`
    seconds for connecting and for each read, and twice that in all). Never raises for
    what the network or the peer did: the answer says it (a timeout, a refused
    connection, a redirect, a body too big, not JSON). Raises OutboundHostNotFound,
    OutboundTargetRefused for a URL that may not be called."""
    started = time.monotonic()
    outbound_http.check_url(url)  # refusals before any connection, with their reason
    send_headers = {"User-Agent": USER_AGENT, "Accept": "application/json", **headers}
    if body is not None:
        send_headers.setdefault("Content-Type", "application/json")
    late = f"no complete answer within {2 * timeout:g} seconds"
    with outbound_http.session() as client, outbound_http.deadline(2 * timeout) as limit:
        try:
            response = client.request(
                method.upper(),
                url,
                headers=send_headers,
                data=body.encode() if body is not None else None,
                timeout=(timeout, timeout),
                allow_redirects=False,
                stream=True,
            )
        except requests.Timeout:
            return _failed(started, f"no answer within {timeout:g} seconds")
        except requests.RequestException as error:
            return _failed(started, late if limit.expired else f"cannot connect: {_reason(error)}")
        try:
            raw, too_big = _read(response)
        except requests.Timeout:
            return _failed(started, f"no answer within {timeout:g} seconds", response.status_code)
        except (requests.RequestException, OSError) as error:
            reason = late if limit.expired else f"the answer broke off: {_reason(error)}"
            return _failed(started, reason, response.status_code)
        finally:
            response.close()
        if limit.expired:  # cut off where the body happened to end cleanly
            return _failed(started, late, response.status_code)
    status = response.status_code
    text = raw.decode("utf-8", errors="replace")
    excerpt = text[:EXCERPT_CHARS]
    milliseconds = _since(started)
    if too_big:
        return Answer(
            status=status,
            document=None,
            is_json=False,
            excerpt=excerpt,
            milliseconds=milliseconds,
            error=f"the answer is larger than {MAX_ANSWER_BYTES // 1024} KB",
        )
    document: Any = None
    is_json = False
    if raw.strip():
        try:
            document = json.loads(text)
            is_json = True
        except ValueError:
            pass
    problem = ""
    if 300 <= status < 400:
        location = response.headers.get("Location", "")
        problem = f"the server answered {status} (a redirect to {location[:200] or 'elsewhere'}:"
        problem += " redirects are not followed; use the final URL)"
    elif not 200 <= status < 300:
        problem = f"the server answered {status}"
    return Answer(
        status=status,
        document=document,
        is_json=is_json,
        excerpt=excerpt,
        milliseconds=milliseconds,
        error=problem,
    )


def _read(response: requests.Response) -> tuple[bytes, bool]:
    """The body up to the limit, and whether there was more. (A peer trickling bytes is
    cut off by the call's deadline, twice the time limit in all.)"""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(chunk_size=16 * 1024):
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            return b"".join(chunks)[:MAX_ANSWER_BYTES], True
    return b"".join(chunks), False


def _reason(error: BaseException) -> str:
    text = str(error)
    return text[:300] if text else type(error).__name__


def _failed(started: float, error: str, status: int | None = None) -> Answer:
    return Answer(
        status=status,
        document=None,
        is_json=False,
        excerpt="",
        milliseconds=_since(started),
        error=error[:500],
    )


def _since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
