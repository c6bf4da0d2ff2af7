"""`make run` (helpdesk.ops run_all): what it tells the developer, and how it keeps its
children running."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from pytest_django import Settings

from helpdesk.ops.management.commands import run_all
from helpdesk.ops.supervisor import Child, Supervisor
from tests.conftest import subprocess_environment

OPTIONS = {"port": 8000, "smtp_port": 2525, "bind": "127.0.0.1"}


def test_banner_says_how_to_turn_on_esp_webhooks(settings: Settings) -> None:
    settings.ANYMAIL = {}
    text = run_all.banner(OPTIONS)
    assert "answer 403" in text
    assert "set ANYMAIL_WEBHOOK_SECRET=user:password" in text


def test_banner_is_quiet_about_webhooks_once_the_secret_is_set(settings: Settings) -> None:
    settings.ANYMAIL = {"WEBHOOK_SECRET": "hook:secret"}
    assert "ANYMAIL_WEBHOOK_SECRET" not in run_all.banner(OPTIONS)
    assert "demo.localhost:8000" in run_all.banner(OPTIONS)


def _wait(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_a_child_that_dies_is_restarted_with_backoff_while_the_others_run() -> None:
    lines: list[str] = []
    supervisor = Supervisor(
        {
            "crashy": [sys.executable, "-c", "raise SystemExit(3)"],
            "steady": [sys.executable, "-c", "import time; time.sleep(60)"],
        },
        report=lines.append,
        first_backoff=0.2,
        max_backoff=0.8,
    )
    supervisor.start()
    steady = supervisor.children["steady"].process
    assert steady is not None
    try:
        crashy = supervisor.children["crashy"]

        def restarted_three_times() -> bool:
            supervisor.check()
            return crashy.restarts >= 3

        assert _wait(restarted_three_times)
        assert supervisor.children["steady"].process is steady  # never touched
        assert steady.poll() is None
        assert crashy.exit_statuses[:3] == [3, 3, 3]
        delays = [line for line in lines if "restarting it in" in line]
        assert delays[0].startswith("crashy exited with status 3")
        # Quick deaths double the wait, up to the maximum.
        assert [supervisor.backoff(Child("x", [], quick_deaths=n)) for n in (1, 2, 3, 4)] == [
            0.2,
            0.4,
            0.8,
            0.8,
        ]
        assert "crashy restarted (restart 1)" in lines
    finally:
        supervisor.stop()
    assert steady.poll() is not None
    assert all(
        c.process is not None and c.process.poll() is not None for c in supervisor.children.values()
    )


def test_a_killed_child_takes_its_process_group_and_comes_back() -> None:
    """The worker's case: its main process is killed and its pool children must not linger
    holding tasks; a new one is started in their place."""
    script = (
        "import subprocess, sys, time;"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
        "time.sleep(60)"
    )
    supervisor = Supervisor({"worker": [sys.executable, "-c", script]}, first_backoff=0.1)
    supervisor.report = lambda line: None
    supervisor.start()
    try:
        first = supervisor.children["worker"].process
        assert first is not None
        time.sleep(0.5)  # its pool child is up
        group = os.getpgid(first.pid)
        os.kill(first.pid, signal.SIGKILL)

        def replaced() -> bool:
            supervisor.check()
            return supervisor.children["worker"].process is not first

        assert _wait(replaced)

        def group_gone() -> bool:
            try:
                os.killpg(group, 0)
            except ProcessLookupError:
                return True
            return False

        assert _wait(group_gone)
        replacement = supervisor.children["worker"].process
        assert replacement is not None
        assert replacement.poll() is None
    finally:
        supervisor.stop()


def test_web_started_while_the_database_is_down_serves_503_not_nothing(tmp_path: Path) -> None:
    """runserver's migration check would kill its server thread and leave a process that
    answers nothing; run_web serves /healthz (503) and recovers with the database."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = {
        **subprocess_environment(),
        "DATABASE_URL": f"postgresql://postgres@/helpdesk?host={tmp_path}",  # no server
    }
    web = subprocess.Popen(
        [sys.executable, "manage.py", "run_web", f"127.0.0.1:{port}", "--noreload"],
        cwd=Path(__file__).resolve().parents[2],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/healthz", headers={"Host": "localhost"}
        )

        def answers_503() -> bool:
            try:
                urllib.request.urlopen(request, timeout=5)  # noqa: S310 (http on loopback)
            except urllib.error.HTTPError as error:
                return error.code == 503
            except OSError:
                return False
            return False

        assert _wait(answers_503, timeout=60)
    finally:
        web.terminate()
        web.wait(20)
    assert web.stderr is not None
    assert b"migrations not checked" in web.stderr.read()
