"""`make bench`: run every benchmark, write its figures to bench/results/ and the tables in
bench/README.md.

    .venv/bin/python -m bench.run [inbound django_helpdesk workspace assignment help_center]
        [--messages N] [--concurrency 2 1] [--tickets N] [--requests N] [--reload]
        [--assignment-tickets N]

The developer's data is never touched. Benchmarks get their own database, `helpdesk_bench`
on the same PostgreSQL server (dropped and built again with `setup_database` and `migrate`
before each measured configuration, or copied from a cached `helpdesk_bench_*` database),
Redis database 9 as broker and cache (flushed), and a temporary var directory for media,
the outbox and worker logs, deleted afterwards. With
DATABASE_URL unset the server is the embedded one under var/; with it set, only the
database name is replaced. Outgoing mail always goes to the temporary outbox.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "bench" / "results"
README = ROOT / "bench" / "README.md"
# Modules of this package, each with run() and markdown().
BENCHMARKS = ("inbound", "django_helpdesk", "workspace", "assignment", "help_center", "reports")
# Two benchmarks on one server at once (two developers) each need their own database and
# Redis database: HELPDESK_BENCH_DATABASE and HELPDESK_BENCH_REDIS_DATABASE.
DATABASE_NAME = os.environ.get("HELPDESK_BENCH_DATABASE", "helpdesk_bench")
REDIS_DATABASE = int(os.environ.get("HELPDESK_BENCH_REDIS_DATABASE", "9"))
TENANT_SLUG = "bench"
README_START = "<!-- bench:results:start (written by bench/run.py) -->"
README_END = "<!-- bench:results:end -->"


def bench_database_url() -> str:
    """DATABASE_URL with the database name replaced; the embedded server's when unset."""
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        from helpdesk.core import embedded

        socket_directory = embedded.ensure_postgres()
        return f"postgresql://postgres@/{DATABASE_NAME}?host={quote(socket_directory)}"
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{DATABASE_NAME}", parts.query, ""))


def bench_redis_url() -> str:
    """REDIS_URL (or the embedded Redis) with database 9."""
    url = os.environ.get("REDIS_URL", "")
    if not url:
        from helpdesk.core import embedded

        socket = embedded.ensure_redis().removeprefix("redis+socket://")
        return f"unix://{socket}?db={REDIS_DATABASE}"
    parts = urlsplit(url)
    if parts.scheme == "unix":
        query = [(k, v) for k, v in parse_qsl(parts.query) if k != "db"]
        query.append(("db", str(REDIS_DATABASE)))
        return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))
    return urlunsplit((parts.scheme, parts.netloc, f"/{REDIS_DATABASE}", parts.query, ""))


@dataclass
class Context:
    """What a benchmark gets: the bench environment and its services."""

    database_url: str
    redis_url: str
    var_dir: Path
    tenant_slug: str = TENANT_SLUG

    def variables(self) -> dict[str, str]:
        return {
            "DJANGO_SETTINGS_MODULE": "helpdesk.settings",
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "HELPDESK_VAR_DIR": str(self.var_dir),
            "HELPDESK_MEDIA_ROOT": str(self.var_dir / "media"),
            "HELPDESK_CACHE_PREFIX": "bench",
            # Never the developer's relay or ESP, and no query log in memory.
            "HELPDESK_EMAIL_BACKEND": "helpdesk.core.mail_backends.OutboxBackend",
            "HELPDESK_DEBUG": "false",
        }

    def subprocess_environment(self) -> dict[str, str]:
        return {**os.environ, **self.variables()}

    def admin_connection(self, dbname: str = DATABASE_NAME) -> Any:
        """psycopg as the server's admin user (superuser: not under row-level security)."""
        import psycopg
        from django.conf import settings

        server = settings.HELPDESK_DATABASE_SERVER
        kwargs: dict[str, Any] = {
            "host": server["HOST"],
            "port": server["PORT"],
            "dbname": dbname,
            "user": server["ADMIN_USER"],
            "autocommit": True,
        }
        if server["ADMIN_PASSWORD"]:
            kwargs["password"] = server["ADMIN_PASSWORD"]
        if server["SSLMODE"]:
            kwargs["sslmode"] = server["SSLMODE"]
        return psycopg.connect(**kwargs)

    def redis(self) -> Any:
        import redis

        return redis.Redis.from_url(self.redis_url)

    def manage(self, *arguments: str) -> None:
        subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *arguments],
            cwd=ROOT,
            env=self.subprocess_environment(),
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def prepare(self) -> None:
        """A new, empty bench database with one tenant, and an empty broker."""
        from django.db import connections
        from psycopg import sql

        connections.close_all()
        with self.admin_connection("postgres") as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(DATABASE_NAME)
                )
            )
        self.manage("setup_database")
        self.manage("migrate", "--no-input")
        self.manage(
            "create_tenant",
            self.tenant_slug,
            "--name",
            "Bench",
            "--admin-email",
            "admin@bench.test",
            "--admin-password",
            "x",
        )
        self.redis().flushdb()
        shutil.rmtree(self.var_dir / "outbox", ignore_errors=True)


def machine_facts(context: Context) -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if "model name" in line),
        platform.processor() or "unknown",
    )
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    memory_kb = next(
        (int(line.split()[1]) for line in meminfo.splitlines() if line.startswith("MemTotal")), 0
    )
    with context.admin_connection("postgres") as connection:  # the bench database may not exist
        postgres = connection.execute("SHOW server_version").fetchone()[0]
    import celery
    import django

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    # The benchmarks' own output (an earlier benchmark of the same run writes it) is not a
    # change to the code measured.
    dirty = subprocess.run(
        [
            "git",
            "status",
            "--porcelain",
            "--untracked-files=no",
            "--",
            ".",
            ":!bench/results",
            ":!bench/README.md",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": model,
        "memory_gib": round(memory_kb / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgresql": postgres,
        "redis": context.redis().info("server").get("redis_version", "?"),
        "django": django.__version__,
        "celery": celery.__version__,
        "commit": f"{commit}{' (with uncommitted changes)' if dirty else ''}",
    }


def write_results(name: str, document: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    text = json.dumps(document, indent=2, default=str) + "\n"
    path = RESULTS_DIR / f"{name}-{stamp}.json"
    path.write_text(text)
    (RESULTS_DIR / f"latest-{name}.json").write_text(text)
    return path


def write_readme() -> None:
    """Rebuild the generated part of bench/README.md from every latest-*.json."""
    sections = []
    for name in BENCHMARKS:
        latest = RESULTS_DIR / f"latest-{name}.json"
        if not latest.exists():
            continue
        document = json.loads(latest.read_text())
        machine = document["machine"]
        module = importlib.import_module(f"bench.{name}")
        sections.append(
            f"Run {machine['date']}, commit {machine['commit']}, in"
            f" {document['seconds']} s: {machine['nproc']} x {machine['cpu_model']},"
            f" {machine['memory_gib']} GiB, Linux {machine['kernel']}, Python"
            f" {machine['python']}, PostgreSQL {machine['postgresql']}, Redis"
            f" {machine['redis']}, Django {machine['django']}, Celery {machine['celery']}.\n\n"
            + module.markdown(document["result"])
        )
    generated = "\n\n".join(sections) or "No results yet: run `make bench`."
    text = (
        README.read_text() if README.exists() else f"# Benchmarks\n\n{README_START}\n{README_END}\n"
    )
    before, _, rest = text.partition(README_START)
    _, _, after = rest.partition(README_END)
    README.write_text(f"{before}{README_START}\n{generated}\n{README_END}{after}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("benchmarks", nargs="*", help=f"some of {', '.join(BENCHMARKS)}")
    parser.add_argument("--messages", type=int, help="messages per run (inbound: 10,000)")
    parser.add_argument(
        "--concurrency", type=int, nargs="+", help="worker configurations to run (default: 2)"
    )
    parser.add_argument("--skip-profile", action="store_true")
    parser.add_argument(
        "--tickets", type=int, help="tickets of the big tenant (workspace: 1,000,000)"
    )
    parser.add_argument("--requests", type=int, help="measured requests per page (workspace: 50)")
    parser.add_argument(
        "--assignment-tickets", type=int, help="tickets per scenario (assignment: 10,000)"
    )
    parser.add_argument(
        "--reload",
        action="store_true",
        help="workspace: build and load the database again instead of the cached copy",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary var directory")
    arguments = parser.parse_args(argv)
    unknown = set(arguments.benchmarks) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark: {', '.join(sorted(unknown))}")

    var_dir = Path(tempfile.mkdtemp(prefix="helpdesk-bench-"))
    # Resolved before HELPDESK_VAR_DIR points at the temporary directory: the embedded
    # servers live under the developer's var/.
    context = Context(
        database_url=bench_database_url(), redis_url=bench_redis_url(), var_dir=var_dir
    )
    os.environ.update(context.variables())
    import django

    django.setup()
    try:
        for name in arguments.benchmarks or BENCHMARKS:
            print(f"{name}:", flush=True)
            started = time.monotonic()
            module = importlib.import_module(f"bench.{name}")
            result = module.run(
                context,
                {
                    "messages": arguments.messages,
                    "concurrency": arguments.concurrency,
                    "skip_profile": arguments.skip_profile,
                    "tickets": arguments.tickets,
                    "requests": arguments.requests,
                    "reload": arguments.reload,
                    "assignment_tickets": arguments.assignment_tickets,
                },
            )
            document = {
                "benchmark": name,
                "machine": machine_facts(context),
                "seconds": round(time.monotonic() - started, 1),
                "result": result,
            }
            path = write_results(name, document)
            print(f"{name}: {document['seconds']} s; figures in {path.relative_to(ROOT)}")
        write_readme()
    finally:
        with context.redis() as client:  # tasks the in-process profile queued
            client.flushdb()
        if arguments.keep:
            print(f"kept {var_dir}")
        else:
            shutil.rmtree(var_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
