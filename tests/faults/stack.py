"""A private help desk for fault tests: its own PostgreSQL and Redis (the embedded servers,
in a temporary var directory), a migrated database with one tenant, and `manage.py run_all`
(web, worker, beat, smtpd under the supervisor) on free ports. The tests stop and start
these servers and kill these processes; nothing else on the machine is touched.

Checks read the database as its superuser (no tenant context needed) and count the
acknowledgements in the outbox, where the development mail backend writes each sent mail.
"""

from __future__ import annotations

import contextlib
import email
import os
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

import psycopg
import redis

from helpdesk.core import embedded

ROOT = Path(__file__).resolve().parents[2]
TENANT = "faults"
MAILBOX = f"support@{TENANT}.localhost"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if predicate():
                return True
        time.sleep(interval)
    return False


@dataclass
class Stack:
    directory: Path
    web_port: int = field(default_factory=free_port)
    smtp_port: int = field(default_factory=free_port)
    run_all: subprocess.Popen[bytes] | None = None

    # --- environment -------------------------------------------------------------------
    def _embedded_environment(self) -> dict[str, str]:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("HELPDESK_")}
        environment.pop("DATABASE_URL", None)
        environment.pop("REDIS_URL", None)
        environment.pop("PGOPTIONS", None)  # tests/conftest.py turns synchronous commit off
        environment["HELPDESK_VAR_DIR"] = str(self.directory)
        return environment

    @property
    def pg_socket_directory(self) -> str:
        lines = (self.directory / "pg" / "postmaster.pid").read_text().splitlines()
        return lines[4].strip()

    def environment(self) -> dict[str, str]:
        return {
            **self._embedded_environment(),
            "DJANGO_SETTINGS_MODULE": "helpdesk.settings",
            "DATABASE_URL": f"postgresql://postgres@/helpdesk?host={self.pg_socket_directory}",
            "REDIS_URL": f"unix://{self.directory / 'redis.sock'}?db=0",
            # Short grace periods, so the sweepers act within the test's patience.
            "HELPDESK_INBOUND_SWEEP_AFTER_SECONDS": "10",
            "HELPDESK_OUTBOUND_SWEEP_AFTER_SECONDS": "10",
            "HELPDESK_AUTO_REPLY_LIMIT_PER_HOUR": "1000",
            "HELPDESK_EMAIL_BACKEND": "helpdesk.core.mail_backends.OutboxBackend",
            "PYTHONUNBUFFERED": "1",
        }

    def _embedded(self, code: str) -> None:
        subprocess.run(
            [sys.executable, "-c", f"from helpdesk.core import embedded; {code}"],
            cwd=ROOT,
            env=self._embedded_environment(),
            check=True,
            capture_output=True,
            timeout=120,
        )

    # --- servers -----------------------------------------------------------------------
    def start_postgres(self) -> None:
        self._embedded("embedded.ensure_postgres()")

    def stop_postgres(self) -> None:
        self._embedded("embedded.stop_postgres()")

    def start_redis(self) -> None:
        self._embedded("embedded.ensure_redis()")

    def stop_redis(self) -> None:
        """What `embedded.stop_redis()` does, from this process: at once, where a new
        Python process would take a moment to start."""
        client = redis.Redis(unix_socket_path=str(self.directory / "redis.sock"))
        with contextlib.suppress(redis.ConnectionError, OSError):
            client.shutdown(nosave=False)  # it closes the connection under us: success

    def manage(self, *arguments: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *arguments],
            cwd=ROOT,
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout

    def start(self, template_url: str) -> None:
        """Start everything on a copy of the migrated database at `template_url` (the test
        database): its schema and migration records, which is what `migrate` would build.
        The copy takes about 2 s; `migrate` on the empty database took 24 s on the idle
        2-core machine and 130 s under the load of other test runs, and `make test` runs
        the fault tests beside the parallel suite."""
        self.start_postgres()
        self.start_redis()
        self.manage("setup_database")
        self._copy_schema(template_url)
        self.manage("migrate", "--no-input")  # a no-op on the copy; fails if it is not one
        self.manage(
            "create_tenant",
            TENANT,
            "--name",
            "Faults",
            "--admin-email",
            f"admin@{TENANT}.localhost",
            "--admin-password",
            "fault-password",
        )
        log = (self.directory / "run_all.log").open("wb")
        self.run_all = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "run_all",
                "--port",
                str(self.web_port),
                "--smtp-port",
                str(self.smtp_port),
            ],
            cwd=ROOT,
            env=self.environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        assert wait_for(self.is_healthy, timeout=120), self.log_tail()

    def _copy_schema(self, template_url: str) -> None:
        binaries = embedded.postgres_binaries()
        dump = self.directory / "schema.sql"
        for arguments in (["--schema-only"], ["--data-only", "--table", "django_migrations"]):
            text = subprocess.run(
                [binaries / "pg_dump", "--no-comments", *arguments, template_url],
                capture_output=True,
                text=True,
                check=True,
                timeout=120,
            ).stdout
            # Column options only the source server knows (this machine's PostgreSQL 15
            # carries a private `pg_attver` on every column) mean nothing to ours.
            lines = [line for line in text.splitlines() if "SET (pg_attver=" not in line]
            with dump.open("a") as output:
                output.write("\n".join(lines) + "\n")
        restore = subprocess.run(
            [
                *(binaries / "psql", "--quiet", "-v", "ON_ERROR_STOP=1", "--single-transaction"),
                *("--file", str(dump), "--host", self.pg_socket_directory),
                *("--username", "postgres", "--dbname", "helpdesk"),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert restore.returncode == 0, restore.stderr[-3000:]

    def close(self) -> None:
        if self.run_all is not None and self.run_all.poll() is None:
            os.killpg(self.run_all.pid, signal.SIGTERM)
            try:
                self.run_all.wait(40)
            except subprocess.TimeoutExpired:
                os.killpg(self.run_all.pid, signal.SIGKILL)
                self.run_all.wait()
        with contextlib.suppress(subprocess.CalledProcessError):
            self._embedded("embedded.stop_redis(); embedded.stop_postgres()")

    def log_size(self) -> int:
        return (self.directory / "run_all.log").stat().st_size

    def log_since(self, offset: int) -> str:
        """What run_all and its children logged since `log_size()` returned `offset`."""
        with (self.directory / "run_all.log").open("rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")

    def log_tail(self, characters: int = 4000) -> str:
        path = self.directory / "run_all.log"
        return path.read_text(errors="replace")[-characters:] if path.exists() else ""

    # --- processes -----------------------------------------------------------------------
    def worker_processes(self) -> tuple[int, list[int]]:
        """The worker's main process (a child of run_all) and its pool children."""
        assert self.run_all is not None
        main = [pid for pid in _children(self.run_all.pid) if b"worker" in _cmdline(pid)]
        assert len(main) == 1, main
        return main[0], _children(main[0])

    def is_healthy(self) -> bool:
        """/healthz answers 200 (database, Redis, worker heartbeat) and SMTP greets."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.web_port}/healthz", headers={"Host": "localhost"}
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
                healthy = response.status == 200
        except (urllib.error.URLError, OSError):
            return False
        if not healthy:
            return False
        with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=5) as client:
            return client.noop()[0] == 250

    def is_up(self) -> bool:
        """run_all and all four of its children are running, and the stack is healthy."""
        assert self.run_all is not None
        names = [_cmdline(pid) for pid in _children(self.run_all.pid)]
        kinds = {b"run_web", b"worker", b"beat", b"smtpd"}
        return (
            self.run_all.poll() is None
            and all(any(kind in name for name in names) for kind in kinds)
            and self.is_healthy()
        )

    # --- the database and the outbox -------------------------------------------------------
    @contextlib.contextmanager
    def database(self) -> Iterator[psycopg.Connection]:
        with psycopg.connect(
            dbname="helpdesk", user="postgres", host=self.pg_socket_directory, autocommit=True
        ) as connection:
            yield connection

    @contextlib.contextmanager
    def ticket_locked(self, contact_email: str) -> Iterator[None]:
        """Hold the row lock of this contact's ticket, as an agent's edit in progress does:
        mail threaded onto it waits, in the middle of its task, until the block ends."""
        with psycopg.connect(
            dbname="helpdesk", user="postgres", host=self.pg_socket_directory
        ) as connection:
            locked = connection.execute(
                "SELECT t.id FROM tickets_ticket t JOIN tickets_contact c ON c.id = t.contact_id "
                "WHERE c.email = %s FOR UPDATE OF t",
                [contact_email],
            ).fetchall()
            assert len(locked) == 1, locked
            yield
            connection.rollback()

    def lock_waiters(self) -> int:
        """Database sessions waiting for a lock (a task held up by `ticket_locked`)."""
        with self.database() as connection:
            row = connection.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = 'helpdesk' AND wait_event_type = 'Lock'"
            ).fetchone()
        return int(row[0]) if row else 0

    def inbound_statuses(self, prefix: str) -> Counter[str]:
        with self.database() as connection:
            rows = connection.execute(
                "SELECT status, count(*) FROM tickets_inboundemail WHERE message_id LIKE %s "
                "GROUP BY status",
                [f"<{prefix}-%"],
            ).fetchall()
        return Counter(dict(rows))

    def customer_message_ids(self, prefix: str) -> list[str]:
        with self.database() as connection:
            rows = connection.execute(
                "SELECT email_message_id FROM tickets_message "
                "WHERE kind = 'customer' AND email_message_id LIKE %s",
                [f"<{prefix}-%"],
            ).fetchall()
        return [row[0] for row in rows]

    def acknowledgement_statuses(
        self, prefix: str, changed_before: datetime | None = None
    ) -> Counter[str]:
        """Delivery states of the automatic replies to this scenario's senders (those last
        changed before `changed_before`, a time of the database's clock, if given)."""
        with self.database() as connection:
            rows = connection.execute(
                "SELECT o.status, count(*) FROM tickets_message m "
                "JOIN mail_outboundemail o ON o.id = m.outbound_email_id "
                "JOIN tickets_ticket t ON t.id = m.ticket_id "
                "JOIN tickets_contact c ON c.id = t.contact_id "
                "WHERE m.is_automatic AND c.email LIKE %s "
                "AND (%s::timestamptz IS NULL OR o.updated_at < %s) GROUP BY o.status",
                [f"{prefix}-%", changed_before, changed_before],
            ).fetchall()
        return Counter(dict(rows))

    def database_now(self) -> datetime:
        with self.database() as connection:
            row = connection.execute("SELECT now()").fetchone()
        assert row is not None
        moment: datetime = row[0]
        return moment

    def outbox_recipients(self, prefix: str) -> Counter[str]:
        """How many mails the help desk sent to each of this scenario's senders."""
        counts: Counter[str] = Counter()
        for path in (self.directory / "outbox").glob("*.eml"):
            message = email.message_from_bytes(path.read_bytes())
            recipient = str(message.get("To", ""))
            if recipient.startswith(f"{prefix}-"):
                counts[recipient] += 1
        return counts


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    with contextlib.suppress(OSError):
        return [int(child) for child in path.read_text().split()]
    return []


def _cmdline(pid: int) -> bytes:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    return b""


def make_stack() -> Stack:
    # Short: PostgreSQL's and Redis' unix sockets live in it (paths under 108 bytes).
    return Stack(Path(tempfile.mkdtemp(prefix="hd-faults-")))


# --- mail ---------------------------------------------------------------------------------
def build_mail(prefix: str, index: int, replying_to: str | None = None) -> tuple[str, bytes]:
    """Mail `index` of a stream; with `replying_to`, the reply of that stream's sender
    `index` to their own first mail (threaded onto its ticket by In-Reply-To)."""
    sender = f"{replying_to or prefix}-{index}@example.test"
    message = EmailMessage()
    message["From"] = sender
    message["To"] = MAILBOX
    message["Subject"] = (
        f"Re: {replying_to} request {index}" if replying_to else f"{prefix} request {index}"
    )
    message["Message-ID"] = f"<{prefix}-{index}@example.test>"
    if replying_to:
        message["In-Reply-To"] = f"<{replying_to}-{index}@example.test>"
    message.set_content(f"Please help with request {index}.")
    return sender, message.as_bytes()


@dataclass
class MailStream:
    """Sends `count` mails, one every `interval` seconds, from a thread, as an MTA does:
    a 4xx reply or a broken connection means try that mail again a second later; a 5xx is a
    bounce and fails the test. Records the mails that got their 250. With `replying_to`,
    the mails are replies from the senders of that stream (see `build_mail`)."""

    stack: Stack
    prefix: str
    count: int
    interval: float = 0.25
    replying_to: str | None = None
    accepted: list[str] = field(default_factory=list)
    temporary_failures: int = 0
    bounces: list[str] = field(default_factory=list)
    thread: threading.Thread | None = None

    def start(self) -> MailStream:
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def join(self, timeout: float) -> None:
        assert self.thread is not None
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the SMTP client is still trying"

    def _run(self) -> None:
        for index in range(self.count):
            sender, raw = build_mail(self.prefix, index, self.replying_to)
            outcome = self._send(sender, raw)
            while outcome == "retry":
                self.temporary_failures += 1
                time.sleep(1)
                outcome = self._send(sender, raw)
            if outcome == "accepted":
                self.accepted.append(f"<{self.prefix}-{index}@example.test>")
            else:
                self.bounces.append(f"{sender}: {outcome}")
            time.sleep(self.interval)

    def _send(self, sender: str, raw: bytes) -> str:
        """'accepted' (250), 'retry' (4xx, or the connection failed) or the 5xx reply."""
        try:
            with smtplib.SMTP("127.0.0.1", self.stack.smtp_port, timeout=30) as client:
                client.sendmail(sender, [MAILBOX], raw)
        except smtplib.SMTPRecipientsRefused as error:
            code, reply = next(iter(error.recipients.values()))
            return "retry" if 400 <= code < 500 else f"{code} {reply!r}"
        except smtplib.SMTPResponseException as error:
            if 400 <= error.smtp_code < 500:
                return "retry"
            return f"{error.smtp_code} {error.smtp_error!r}"
        except (smtplib.SMTPException, OSError):
            return "retry"
        return "accepted"
