"""A small process manager for `run_all`: children that die are started again.

Each child runs in its own session (so stopping it takes its whole process group: the
runserver reloader, the worker's pool children). A child that exits while the supervisor
is not stopping is logged and started again after a backoff that doubles with each quick
death (1 s, 2 s, 4 s, ... up to 30 s) and starts over once the child has stayed up for a
minute. Only `stop()` (Ctrl-C or SIGTERM in `run_all`) ends the children.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

FIRST_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 30.0
# A child that ran this long before dying was healthy: its next restart is quick again.
STABLE_AFTER_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0


@dataclass
class Child:
    """One supervised command and its restart bookkeeping."""

    name: str
    command: Sequence[str]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    quick_deaths: int = 0
    restart_at: float | None = None
    exit_statuses: list[int] = field(default_factory=list)


class Supervisor:
    """Start the commands, keep them running, stop them all on request."""

    def __init__(
        self,
        commands: Mapping[str, Sequence[str]],
        *,
        environment: Mapping[str, str] | None = None,
        report: Callable[[str], None] | None = None,
        first_backoff: float = FIRST_BACKOFF_SECONDS,
        max_backoff: float = MAX_BACKOFF_SECONDS,
        stable_after: float = STABLE_AFTER_SECONDS,
    ) -> None:
        self.children = {name: Child(name, list(command)) for name, command in commands.items()}
        self.environment = dict(environment if environment is not None else os.environ)
        self.report = report or logger.warning
        self.first_backoff = first_backoff
        self.max_backoff = max_backoff
        self.stable_after = stable_after
        self.stopping = False

    def start(self) -> None:
        for child in self.children.values():
            self._spawn(child)

    def _spawn(self, child: Child) -> None:
        child.process = subprocess.Popen(  # noqa: S603
            child.command, start_new_session=True, env=self.environment
        )
        child.started_at = time.monotonic()
        child.restart_at = None

    def backoff(self, child: Child) -> float:
        """Seconds to wait before starting `child` again, after its latest death."""
        delay: float = self.first_backoff * 2 ** max(child.quick_deaths - 1, 0)
        return min(delay, self.max_backoff)

    def check(self) -> None:
        """One round: notice children that died, start those whose backoff has passed."""
        now = time.monotonic()
        for child in self.children.values():
            process = child.process
            if child.restart_at is None and process is not None and process.poll() is not None:
                status = process.returncode
                child.exit_statuses.append(status)
                uptime = now - child.started_at
                child.quick_deaths = 1 if uptime >= self.stable_after else child.quick_deaths + 1
                delay = self.backoff(child)
                child.restart_at = now + delay
                # Its pool children or reloader may outlive it: clear the group first.
                _kill_group(process.pid, signal.SIGKILL)
                self.report(
                    f"{child.name} exited with status {status} after {uptime:.0f}s; "
                    f"restarting it in {delay:.0f}s"
                )
            if child.restart_at is not None and now >= child.restart_at and not self.stopping:
                child.restarts += 1
                self._spawn(child)
                self.report(f"{child.name} restarted (restart {child.restarts})")

    def run(self, interval: float = 0.3) -> None:
        """Supervise until `stopping` is set (by a signal handler), then stop everything."""
        while not self.stopping:
            self.check()
            time.sleep(interval)
        self.stop()

    def stop(self) -> None:
        self.stopping = True
        running = [c.process for c in self.children.values() if c.process is not None]
        for process in running:
            if process.poll() is None:
                _kill_group(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for process in running:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _kill_group(process.pid, signal.SIGKILL)
                process.wait()
            # Whatever is left of its group (a pool child that ignored SIGTERM).
            _kill_group(process.pid, signal.SIGKILL)


def _kill_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)
