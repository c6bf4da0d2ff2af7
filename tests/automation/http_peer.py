"""A real HTTP peer on loopback for integration tests (a project tool, a CRM): a threaded
http.server answering each path as the test sets it (status, body, delay, headers, a look at
the caller while it waits) and keeping every request it gets."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer
from typing import Any


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Route:
    status: int = 200
    body: bytes = b"{}"
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    # Called (in the peer's thread) while the request waits for its answer: a test looks
    # at what the caller holds meanwhile.
    while_waiting: Callable[[], None] | None = None


@dataclass
class Peer:
    port: int = 0
    routes: dict[str, Route] = field(default_factory=dict)
    # The answer to a path without a route of its own.
    otherwise: Route = field(default_factory=lambda: Route(status=404, body=b"{}"))
    requests: list[Seen] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, path: str, status: int = 200, body: Any = None, **options: Any) -> None:
        """Answer `path` (without its query) with `body` (JSON unless bytes)."""
        raw = body if isinstance(body, bytes) else json.dumps(body if body is not None else {})
        self.routes[path] = Route(
            status=status, body=raw.encode() if isinstance(raw, str) else raw, **options
        )

    def seen(self, path: str) -> list[Seen]:
        return [request for request in self.requests if request.path.split("?")[0] == path]


@contextmanager
def serve() -> Iterator[Peer]:
    """A peer on 127.0.0.1 and a free port, until the block ends."""
    state = Peer()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            state.requests.append(Seen(self.command, self.path, dict(self.headers.items()), body))
            route = state.routes.get(self.path.split("?")[0], state.otherwise)
            if route.while_waiting is not None:
                route.while_waiting()
            if route.delay:
                time.sleep(route.delay)
            try:
                self.send_response(route.status)
                self.send_header("Content-Type", "application/json")
                for name, value in route.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                self.wfile.write(route.body)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def do_GET(self) -> None:
            self._handle()

        def do_POST(self) -> None:
            self._handle()

        def do_PUT(self) -> None:
            self._handle()

        def do_PATCH(self) -> None:
            self._handle()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    with running(server):
        yield state


@contextmanager
def running(server: HTTPServer) -> Iterator[None]:
    """Serve on a thread of its own until the block ends, then close the server. The
    loop looks for the shutdown every 20 ms: with http.server's default half second,
    every test with a peer waited about that long at its end."""
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
