"""A webhook receiver for tests: the loopback HTTP peer (tests/automation/http_peer.py)
answering every path with the status and body the test chooses, keeping every request."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tests.automation.http_peer import Peer, Seen
from tests.automation.http_peer import serve as serve_peer

Received = Seen


class Receiver:
    """What a webhook test sets and reads: the answer, and the requests received."""

    def __init__(self, peer: Peer) -> None:
        self.peer = peer
        peer.otherwise.status, peer.otherwise.body = 200, b'{"ok": true}'

    @property
    def port(self) -> int:
        return self.peer.port

    @property
    def url(self) -> str:
        return self.peer.url("/hooks/helpdesk")

    @property
    def requests(self) -> list[Received]:
        return self.peer.requests

    @property
    def status(self) -> int:
        return self.peer.otherwise.status

    @status.setter
    def status(self, value: int) -> None:
        self.peer.otherwise.status = value

    @property
    def answer(self) -> bytes:
        return self.peer.otherwise.body

    @answer.setter
    def answer(self, value: bytes) -> None:
        self.peer.otherwise.body = value

    def events(self) -> list[str]:
        return [request.json["event"] for request in self.requests]


@contextmanager
def serve() -> Iterator[Receiver]:
    """A receiver on 127.0.0.1 and a free port, until the block ends."""
    with serve_peer() as peer:
        yield Receiver(peer)
