"""A real Dovecot IMAP server on loopback for the IMAP poller's tests.

The session fixture `dovecot` runs `dovecot -F` from a private temporary directory with its
own configuration: passwd-file users, maildir storage, login on 127.0.0.1 on a free high
port in clear text or after STARTTLS, and SSL/TLS on a second port, with a self-signed
certificate for 127.0.0.1 made by `openssl` (its file is the CA a client trusts). As root
it runs as `nobody`, because Dovecot refuses to run mail processes as root. Tests deliver
mail with IMAP APPEND and read flags back with imaplib.
"""

from __future__ import annotations

import contextlib
import dataclasses
import grp
import imaplib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

USER = "support"
PASSWORD = "imap-test-password"
# A second account whose server advertises bare IMAP4rev1 after login (no MOVE, no
# UIDPLUS): the passwd-file extra field `userdb_imap_capability` overrides it for that
# user only (without the `userdb_` prefix Dovecot 2.3 ignores it).
LEGACY_USER = "legacy"
START_TIMEOUT_SECONDS = 15
# auth_failure_delay and the anvil-auth-penalty listener turned off: a refused login answers
# at once, and the logins after it too (Dovecot waits 2 s on a failure, and then slows every
# login from the address, right ones included, 4 s and more after each failure).

_CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
ssl = yes
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_login_user = {user}
default_internal_user = {user}
default_internal_group = {group}
first_valid_uid = {uid}
last_valid_uid = {uid}
first_valid_gid = {gid}
last_valid_gid = {gid}
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = {root}/passwd
}}
userdb {{
  driver = passwd-file
  args = {root}/passwd
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
}}
service anvil {{
  chroot =
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def quote(folder: str) -> str:
    """An IMAP quoted string (imaplib sends mailbox names as they are)."""
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclasses.dataclass
class Dovecot:
    """A running server: where it listens, the account the helpers use, IMAP helpers."""

    host: str
    port: int
    tls_port: int  # SSL/TLS from the start; `port` offers STARTTLS
    ca_file: Path  # the server's self-signed certificate
    user: str
    password: str
    root: Path
    pid: int

    def as_user(self, user: str) -> Dovecot:
        """The same server seen through another of its accounts (say, LEGACY_USER)."""
        return dataclasses.replace(self, user=user)

    def connect(self) -> imaplib.IMAP4:
        """A logged-in client; the caller logs out."""
        client = imaplib.IMAP4(self.host, self.port, timeout=10)
        client.login(self.user, self.password)
        return client

    def append(self, raw: bytes, *, folder: str = "INBOX", flags: str = "") -> int:
        """APPEND one message (creating the folder if needed); returns its UID."""
        client = self.connect()
        try:
            if folder.upper() != "INBOX":
                client.create(quote(folder))  # NO when it exists already: fine
            typ, data = client.append(quote(folder), f"({flags})" if flags else None, None, raw)
            assert typ == "OK", data
            # Dovecot has UIDPLUS: "[APPENDUID <uidvalidity> <uid>] Append completed."
            match = re.search(rb"APPENDUID \d+ (\d+)", data[0] or b"")
            assert match, data
            return int(match.group(1))
        finally:
            client.logout()

    def messages(self, folder: str = "INBOX") -> dict[int, set[str]]:
        """UID -> flags of every message in the folder ({} when the folder is missing)."""
        client = self.connect()
        try:
            typ, _ = client.select(quote(folder), readonly=True)
            if typ != "OK":
                return {}
            typ, data = client.uid("FETCH", "1:*", "(FLAGS)")
            found: dict[int, set[str]] = {}
            for line in data:
                uid = re.search(rb"UID (\d+)", line or b"")
                flags = re.search(rb"FLAGS \(([^)]*)\)", line or b"")
                if uid and flags:
                    found[int(uid.group(1))] = set(flags.group(1).decode().split())
            return found
        finally:
            client.logout()

    def uid_validity(self, folder: str = "INBOX") -> int:
        client = self.connect()
        try:
            typ, data = client.status(quote(folder), "(UIDVALIDITY)")
            assert typ == "OK", data
            match = re.search(rb"UIDVALIDITY (\d+)", data[0] or b"")
            assert match, data
            return int(match.group(1))
        finally:
            client.logout()

    def sessions(self) -> list[dict[str, int]]:
        """The counters Dovecot logs as each session of this account ends (deleted=,
        expunged=, body_count=, ...), oldest first. The log lags the LOGOUT slightly."""
        log = (self.root / "dovecot.log").read_text(errors="replace")
        return [
            {name: int(value) for name, value in re.findall(r"(\w+)=(\d+)", line)}
            for line in log.splitlines()
            if f"imap({self.user})" in line and "Disconnected" in line
        ]

    def delete_folder(self, folder: str) -> None:
        client = self.connect()
        try:
            client.delete(quote(folder))
        finally:
            client.logout()

    def clear(self) -> None:
        """Empty INBOX and delete every other folder: a clean account for the next test."""
        client = self.connect()
        try:
            typ, data = client.list()
            for line in data if typ == "OK" else []:
                assert not isinstance(line, tuple), line  # no literal: our names are plain
                match = re.search(rb'"([^"]*)"$|(\S+)$', line or b"")
                name = (match.group(1) or match.group(2)).decode() if match else ""
                if name and name.upper() != "INBOX":
                    client.delete(quote(name))
            _, count = client.select("INBOX")
            if int(count[0] or 0):
                client.store("1:*", "+FLAGS.SILENT", r"(\Deleted)")
                client.expunge()
        finally:
            client.logout()


def _run_as() -> tuple[list[str], str, str, int, int]:
    """Command prefix and user/group Dovecot runs as: `nobody` when we are root."""
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        prefix = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
        return prefix, "nobody", "nogroup", nobody.pw_uid, nobody.pw_gid
    user, group = pwd.getpwuid(os.geteuid()).pw_name, grp.getgrgid(os.getegid()).gr_name
    return [], user, group, os.geteuid(), os.getegid()


def _wait_until_ready(process: subprocess.Popen[bytes], root: Path) -> None:
    """Wait for the auth socket and "starting up" in the log (the port alone races)."""
    log = root / "dovecot.log"
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"dovecot exited with {process.returncode}: {_tail(root / 'stderr.log')}"
                f" {_tail(log)}"
            )
        started = log.exists() and "starting up" in log.read_text(errors="replace")
        if started and (root / "run" / "auth-client").exists():
            return
        time.sleep(0.05)
    raise RuntimeError(f"dovecot did not start in {START_TIMEOUT_SECONDS}s: {_tail(log)}")


def _make_certificate(root: Path) -> None:
    """A self-signed certificate for 127.0.0.1 (its own CA), valid for a day."""
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(root / "key.pem"),
            "-out",
            str(root / "cert.pem"),
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
        ],
        check=True,
        capture_output=True,
    )


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """A Dovecot IMAP server for the whole session; skipped when Dovecot is not installed."""
    binary = shutil.which("dovecot") or (
        "/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None
    )
    if binary is None:
        pytest.skip("dovecot is not installed (apt-get install dovecot-imapd)")
    prefix, user, group, uid, gid = _run_as()
    if shutil.which("openssl") is None:
        pytest.skip("the test server's certificate needs openssl (apt-get install openssl)")
    if prefix and shutil.which("setpriv") is None:
        pytest.skip("running as root needs setpriv (util-linux) to start dovecot as nobody")
    root = Path(tempfile.mkdtemp(prefix="helpdesk-dovecot-"))
    home = root / "home" / USER
    for path in (root / "run", root / "state", home):
        path.mkdir(parents=True)
    (root / "home" / LEGACY_USER).mkdir()
    (root / "passwd").write_text(
        f"{USER}:{{PLAIN}}{PASSWORD}:{uid}:{gid}::{home}::\n"
        f"{LEGACY_USER}:{{PLAIN}}{PASSWORD}:{uid}:{gid}::{root}/home/{LEGACY_USER}::"
        "userdb_imap_capability=IMAP4rev1\n"
    )
    port, tls_port = _free_port(), _free_port()
    _make_certificate(root)
    config = root / "dovecot.conf"
    config.write_text(
        _CONFIG.format(
            root=root, user=user, group=group, uid=uid, gid=gid, port=port, tls_port=tls_port
        )
    )
    for path in [root, *root.rglob("*")]:
        os.chown(path, uid, gid)
    with (root / "stderr.log").open("wb") as stderr:  # config errors come before the log
        process = subprocess.Popen(
            [*prefix, binary, "-F", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=stderr
        )
    try:
        _wait_until_ready(process, root)
        yield Dovecot(
            host="127.0.0.1",
            port=port,
            tls_port=tls_port,
            ca_file=root / "cert.pem",
            user=USER,
            password=PASSWORD,
            root=root,
            pid=process.pid,
        )
    finally:
        # Stop it by the PID we started; its children (auth, imap, ...) exit with it.
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def loopback_imap_allowed(settings: Any) -> None:
    """The test server listens on 127.0.0.1, which mailbox settings may not name unless the
    operator allows private hosts (HELPDESK_IMAP_ALLOW_PRIVATE_HOSTS)."""
    settings.HELPDESK_IMAP_ALLOW_PRIVATE_HOSTS = True
