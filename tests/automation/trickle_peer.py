"""A loopback HTTP peer that answers 200 at once, then sends its body one byte at a time,
each within any per-read timeout: what an overall deadline has to cut off."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def trickling(*, length: int = 40, gap: float = 0.25) -> Iterator[str]:
    """The peer's base URL (http://127.0.0.1:<port>) until the block ends."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def answer(connection: socket.socket) -> None:
        with connection:
            try:
                connection.recv(65536)
                connection.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n" % length
                )
                for _ in range(length):
                    if stop.wait(gap):
                        return
                    connection.sendall(b" ")
            except OSError:  # the caller gave up and closed
                return

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=answer, args=(connection,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        listener.close()
        time.sleep(0)  # let the threads see it
