"""django-helpdesk on the inbound benchmark's mail: the comparison issue 17 asks for.

The same generated messages as `bench/inbound.py` (same generator, seed and namespace, so
the same Message-IDs, bodies, charsets and attachments) go through django-helpdesk's own
mail import, one process, on the same machine and PostgreSQL server:

- **django-helpdesk** is installed from PyPI (versions pinned in `REQUIREMENTS`) into a
  virtual environment of its own, `var/bench/django-helpdesk-<version>` (or
  `HELPDESK_BENCH_DH_VENV`), never into the project's: its Django app is a package called
  `helpdesk`, like our project. Made on the first run; without a network the benchmark
  prints why and is skipped. None of its code is in this repository.
- **The project**: a minimal Django project written into a temporary directory at run time
  (`project_files`): its settings (database `helpdesk_bench_dh` on the same server, or
  `HELPDESK_BENCH_DH_DATABASE`; the apps django-helpdesk needs; mail to a file-based
  outbox; attachments under the temporary directory) and a runner that migrates, creates
  one queue (`bench`, `support@bench.localhost`, mailbox type "local") and imports the
  mail.
- **The import**: each mail is a .eml file in the queue's local mailbox directory, named in
  arrival order. The runner processes them in that order as django-helpdesk's mailbox sync
  does per message: the raw bytes through `force_str(..., errors="replace")` (its IMAP
  path; the "local" path opens files as strict UTF-8 text, which fails on the mix's 8-bit
  iso-8859-1 and windows-1252 mail and ends the whole queue, and takes files in directory
  order, not arrival order), then `helpdesk.email.extract_email_metadata`, which parses,
  threads, creates the ticket or follow-up, stores attachments, subscribes To and Cc
  addresses and sends its notification mails. The files are left in place (the "local"
  path deletes each one, which on this machine's disk waits for a discard; the IMAP path
  marks the message on the server instead). Timed from the first file to the last: wall
  time, the process's CPU time, its PostgreSQL backend's CPU time (from /proc) and SQL
  statements (an `execute_wrapper`).
- **Threading, made fair**: django-helpdesk threads a reply by its In-Reply-To (matched
  against the Message-ID stored on each follow-up) or by "[bench-<ticket id>]" in the
  subject, which its notification mails carry. In-Reply-To replies are fed unchanged.
  The replies that find their ticket by something it does not read (References only, our
  "[#123]" subject tag, our plus address) carry its tag instead, with the id of the ticket
  the answered mail opened: one process, a fresh database and every mail processed in order,
  so the ticket ids are the order of the new requests (checked afterwards: a reply counts
  as threaded only when it landed on the ticket of the mail it answers). So both systems
  create the same tickets and add the same replies to them.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench import inbound

if TYPE_CHECKING:
    from bench.run import Context

ROOT = Path(__file__).resolve().parents[1]
VERSION = "2.6.1"
REQUIREMENTS = (f"django-helpdesk=={VERSION}", "Django==5.2.19", "psycopg[binary]==3.3.9")
VENV = Path(
    os.environ.get(
        "HELPDESK_BENCH_DH_VENV", str(ROOT / "var" / "bench" / f"django-helpdesk-{VERSION}")
    )
)
DATABASE_NAME = os.environ.get("HELPDESK_BENCH_DH_DATABASE", "helpdesk_bench_dh")
QUEUE = "bench"
INSTALL_SECONDS = 600
PROFILE_MESSAGES = 1_000

SETTINGS = """\
# Written by bench/django_helpdesk.py: a minimal project for django-helpdesk's mail import.
import os

BASE_DIR = {base_dir!r}
SECRET_KEY = "bench-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
TIME_ZONE = "UTC"
SITE_ID = 1
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django.contrib.humanize",
    "rest_framework",
    "helpdesk",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "bench_urls"
TEMPLATES = [
    {{
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {{
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        }},
    }}
]
DATABASES = {{
    "default": {{
        "ENGINE": "django.db.backends.postgresql",
        "NAME": {name!r},
        "HOST": {host!r},
        "PORT": {port!r},
        "USER": {user!r},
        # The password and SSL mode, if any, come from PGPASSWORD and PGSSLMODE.
    }}
}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
STATIC_URL = "/static/"
MEDIA_ROOT = os.path.join(BASE_DIR, "media")
MEDIA_URL = "/media/"
EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = os.path.join(BASE_DIR, "outbox")
DEFAULT_FROM_EMAIL = "support@bench.localhost"
HELPDESK_TEAMS_MODE_ENABLED = False
LOGGING = {{
    "version": 1,
    "disable_existing_loggers": False,
    "root": {{"level": "WARNING", "handlers": []}},
}}
"""

URLS = """\
from django.urls import include, path

urlpatterns = [path("helpdesk/", include("helpdesk.urls", namespace="helpdesk"))]
"""

# Runs in django-helpdesk's environment: argv[1] the plan (JSON), argv[2] where the figures go.
RUNNER = """\
import cProfile
import json
import logging
import os
import pstats
import resource
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ["DJANGO_SETTINGS_MODULE"] = "bench_settings"

import django

django.setup()

from django.core.management import call_command
from django.db import connection
from django.utils import encoding


def backend_cpu(pid):
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# Steps of the import, by (file suffix, function): cumulative CPU ms per mail (cProfile).
STEPS = [
    ("parse (email.message_from_string)", "email/__init__.py", "message_from_string"),
    ("body text (extract_email_message_content)", "helpdesk/email.py",
     "extract_email_message_content"),
    ("attachments found (extract_attachments)", "helpdesk/email.py", "extract_attachments"),
    ("writes and mails (create_object_from_email_message)", "helpdesk/email.py",
     "create_object_from_email_message"),
    ("  notification mails (send_info_email)", "helpdesk/email.py", "send_info_email"),
    ("  attachments stored (process_attachments)", "helpdesk/lib.py", "process_attachments"),
    ("  To and Cc subscribed (create_ticket_cc)", "helpdesk/email.py", "create_ticket_cc"),
    ("  backlinks (create_ticket_backlinks)", "helpdesk/update_ticket.py",
     "create_ticket_backlinks"),
    ("SQL, this process's side (execute_wrapper)", "run_import.py", "count"),
]


def profile_shares(profiler, mails):
    stats = pstats.Stats(profiler).stats
    total = sum(entry[2] for entry in stats.values())
    shares = {"total": round(1000 * total / max(1, mails), 2)}
    for label, suffix, function in STEPS:
        seconds = sum(
            entry[3]
            for (filename, _, name), entry in stats.items()
            if name == function and filename.endswith(suffix)
        )
        shares[label] = round(1000 * seconds / max(1, mails), 2)
    return shares


def main():
    plan = json.loads(Path(sys.argv[1]).read_text())
    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    migrated = time.perf_counter() - started
    from helpdesk import email as helpdesk_email
    from helpdesk.exceptions import DeleteIgnoredTicketException, IgnoreTicketException
    from helpdesk.models import FollowUp, FollowUpAttachment, Queue, Ticket, TicketCC

    queue = Queue.objects.create(
        title="Bench",
        slug=plan["queue"],
        email_address=plan["address"],
        allow_email_submission=True,
        email_box_type="local",
        email_box_local_dir=plan["maildir"],
        logging_type="none",
    )
    # As process_email() sets up a queue whose logging type is "none".
    logger = logging.getLogger("django.helpdesk.queue." + queue.slug)
    logger.handlers = []
    logger.propagate = False
    files = sorted(Path(plan["maildir"]).iterdir())
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    counted = {"statements": 0, "seconds": 0.0}

    def count(execute, sql, params, many, context):
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            counted["statements"] += 1
            counted["seconds"] += time.perf_counter() - began

    tickets = {}
    failures = Counter()
    ignored = 0
    load_before = os.getloadavg()
    backend_before = backend_cpu(backend)
    cpu_before = time.process_time()
    wall_before = time.perf_counter()
    profiler = cProfile.Profile(time.process_time) if plan.get("profile") else None
    if profiler is not None:
        profiler.enable()
    with connection.execute_wrapper(count):
        for path in files:
            full_message = encoding.force_str(path.read_bytes(), errors="replace")
            try:
                ticket = helpdesk_email.extract_email_metadata(
                    message=full_message, queue=queue, logger=logger
                )
            except (IgnoreTicketException, DeleteIgnoredTicketException):
                ignored += 1
                continue
            except Exception as error:  # counted and reported, as a failed mail
                failures[f"{type(error).__name__}: {str(error)[:120]}"] += 1
                continue
            if ticket:
                tickets[path.stem] = ticket.id
    if profiler is not None:
        profiler.disable()
    wall = time.perf_counter() - wall_before
    cpu = time.process_time() - cpu_before
    backend_after = backend_cpu(backend)
    load_after = os.getloadavg()
    outbox = Path(plan["outbox"])
    figures = {
        "django_helpdesk": __import__("helpdesk").__version__
        if hasattr(__import__("helpdesk"), "__version__")
        else None,
        "django": django.get_version(),
        "migrate_seconds": round(migrated, 2),
        "messages": len(files),
        "processed": len(tickets),
        "ignored": ignored,
        "failed": sum(failures.values()),
        "failure_reasons": failures.most_common(5),
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "postgres_cpu_seconds": None
        if backend_before is None or backend_after is None
        else backend_after - backend_before,
        "statements": counted["statements"],
        "sql_seconds": counted["seconds"],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "load_average_before": load_before,
        "load_average_after": load_after,
        "rows": {
            "tickets": Ticket.objects.count(),
            "follow_ups": FollowUp.objects.count(),
            "attachments": FollowUpAttachment.objects.count(),
            "ticket_ccs": TicketCC.objects.count(),
        },
        "outbox_files": len(list(outbox.iterdir())) if outbox.exists() else 0,
        "tickets": tickets,
        "profile": profile_shares(profiler, len(tickets)) if profiler is not None else None,
    }
    Path(sys.argv[2]).write_text(json.dumps(figures))


main()
"""


def project_files(
    base_dir: Path, *, name: str, host: str, port: str | int, user: str
) -> dict[str, str]:
    """The files of the minimal Django project: settings, URLs and the import runner."""
    return {
        "bench_settings.py": SETTINGS.format(
            base_dir=str(base_dir), name=name, host=host, port=str(port), user=user
        ),
        "bench_urls.py": URLS,
        "run_import.py": RUNNER,
    }


def ensure_venv() -> tuple[Path | None, str]:
    """django-helpdesk's Python, made and installed when missing; (None, reason) if not."""
    python = VENV / "bin" / "python"
    marker = VENV / "bench-requirements.txt"
    wanted = "\n".join(REQUIREMENTS) + "\n"
    if python.exists() and marker.exists() and marker.read_text() == wanted:
        return python, ""
    print(f"  installing {', '.join(REQUIREMENTS)} into {VENV}", flush=True)
    shutil.rmtree(VENV, ignore_errors=True)
    VENV.parent.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(
            [sys.executable, "-m", "venv", str(VENV)], check=True, capture_output=True, text=True
        )
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", *REQUIREMENTS],
            check=True,
            capture_output=True,
            text=True,
            timeout=INSTALL_SECONDS,
        )
    except subprocess.CalledProcessError as error:
        shutil.rmtree(VENV, ignore_errors=True)
        output = (error.stderr or error.stdout or "").strip().splitlines()
        return (
            None,
            f"could not install django-helpdesk from PyPI: {output[-1] if output else error}",
        )
    except subprocess.TimeoutExpired:
        shutil.rmtree(VENV, ignore_errors=True)
        return None, f"installing django-helpdesk took more than {INSTALL_SECONDS} s"
    marker.write_text(wanted)
    return python, ""


def tagged_for_django_helpdesk(spec: inbound.MailSpec, ticket_id: int) -> inbound.MailSpec:
    """The reply as it is fed to django-helpdesk: replies that thread by something it does
    not read (References only, our subject tag, our plus address) carry its subject tag
    "[bench-<id>]" instead; In-Reply-To replies and new requests are unchanged."""
    if spec.kind != "reply" or spec.via == "in-reply-to":
        return spec
    return dataclasses.replace(
        spec,
        subject=f"{spec.subject} [{QUEUE}-{ticket_id}]",
        via="references" if spec.via == "references" else "",
    )


def expected_tickets(specs: list[inbound.MailSpec]) -> dict[str, int]:
    """The ticket id each conversation gets in a fresh database, mails processed in order:
    the new requests numbered from 1."""
    ids: dict[str, int] = {}
    for spec in specs:
        if spec.kind == "new":
            ids[spec.message_id] = len(ids) + 1
    return ids


def write_mailbox(specs: list[inbound.MailSpec], directory: Path) -> list[float]:
    """Every mail as `<index>.eml` in arrival order; returns the sizes."""
    directory.mkdir(parents=True)
    tickets = expected_tickets(specs)
    sizes = []
    for spec in specs:
        fed = tagged_for_django_helpdesk(spec, tickets.get(spec.root, 0))
        raw, _ = inbound.render(fed)
        (directory / f"{spec.index:05d}.eml").write_bytes(raw)
        sizes.append(float(len(raw)))
    return sizes


def _threading(specs: list[inbound.MailSpec], tickets: dict[str, int]) -> dict[str, Any]:
    ticket_of = {spec.message_id: tickets.get(f"{spec.index:05d}") for spec in specs}
    by_via: dict[str, Counter[str]] = {}
    for spec in specs:
        if spec.kind != "reply":
            continue
        actual, expected = ticket_of[spec.message_id], ticket_of[spec.answers]
        counts = by_via.setdefault(spec.via, Counter())
        counts["replies"] += 1
        counts["threaded"] += int(actual is not None and actual == expected)
    replies = sum(c["replies"] for c in by_via.values())
    threaded = sum(c["threaded"] for c in by_via.values())
    return {
        "replies": replies,
        "threaded": threaded,
        "accuracy_percent": round(100 * threaded / replies, 3) if replies else None,
        "by_via": {
            via: {"replies": c["replies"], "threaded": c["threaded"]}
            for via, c in sorted(by_via.items())
        },
    }


def _recreate_database(context: Context) -> None:
    from psycopg import sql

    with context.admin_connection("postgres") as admin:
        name = sql.Identifier(DATABASE_NAME)
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(name))


def _environment(server: dict[str, Any]) -> dict[str, str]:
    """The runner's environment: none of ours (no PYTHONPATH, no settings module), the
    server's password and SSL mode for libpq."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key in {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR"}
    }
    if server["ADMIN_PASSWORD"]:
        environment["PGPASSWORD"] = server["ADMIN_PASSWORD"]
    if server["SSLMODE"]:
        environment["PGSSLMODE"] = server["SSLMODE"]
    return environment


def _import(
    context: Context, python: Path, specs: list[inbound.MailSpec], *, profile: bool
) -> tuple[dict[str, Any], list[float]]:
    """A fresh project, database and mailbox, then the runner over `specs`."""
    from django.conf import settings

    server = settings.HELPDESK_DATABASE_SERVER
    base = context.var_dir / "django-helpdesk"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    for filename, text in project_files(
        base,
        name=DATABASE_NAME,
        host=server["HOST"],
        port=server["PORT"],
        user=server["ADMIN_USER"],
    ).items():
        (base / filename).write_text(text)
    maildir = base / "mailbox"
    sizes = write_mailbox(specs, maildir)
    plan = {
        "queue": QUEUE,
        "address": inbound.SUPPORT,
        "maildir": str(maildir),
        "outbox": str(base / "outbox"),
        "profile": profile,
    }
    (base / "plan.json").write_text(json.dumps(plan))
    _recreate_database(context)
    completed = subprocess.run(
        [
            str(python),
            str(base / "run_import.py"),
            str(base / "plan.json"),
            str(base / "figures.json"),
        ],
        cwd=base,
        env=_environment(server),
        capture_output=True,
        text=True,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"django-helpdesk's import failed:\n{completed.stderr[-3000:]}")
    figures: dict[str, Any] = json.loads((base / "figures.json").read_text())
    shutil.rmtree(base, ignore_errors=True)  # the stored attachments and mails sent
    return figures, sizes


def run(context: Context, options: dict[str, Any]) -> dict[str, Any]:
    """Import `messages` generated mails (10,000) into a fresh django-helpdesk, then (not
    with skip_profile) PROFILE_MESSAGES of them again under cProfile."""
    messages = int(options.get("messages") or inbound.MESSAGES)
    python, reason = ensure_venv()
    if python is None:
        print(f"  skipped: {reason}", flush=True)
        return {"skipped": reason, "messages": messages}
    specs = inbound.generate(messages, seed=inbound.SEED, namespace="bench")
    print(f"  django-helpdesk {VERSION}: {messages} messages, one process", flush=True)
    began = time.monotonic()
    figures, sizes = _import(context, python, specs, profile=False)
    run_seconds = time.monotonic() - began
    tickets = figures.pop("tickets")
    processed = max(1, figures["processed"])
    wall = figures["wall_seconds"]
    postgres = figures["postgres_cpu_seconds"]
    result = {
        "version": VERSION,
        "requirements": list(REQUIREMENTS),
        "django": figures["django"],
        "database": DATABASE_NAME,
        "messages": messages,
        "seed": inbound.SEED,
        "raw_message_bytes": inbound._percentiles(sizes),
        "processed": figures["processed"],
        "failed": figures["failed"],
        "ignored": figures["ignored"],
        "failure_reasons": figures["failure_reasons"],
        "wall_seconds": round(wall, 2),
        "messages_per_second": round(figures["processed"] / wall, 1) if wall else None,
        "cpu_ms_per_message": round(1000 * figures["cpu_seconds"] / processed, 2),
        "postgres_cpu_ms_per_message": None
        if postgres is None
        else round(1000 * postgres / processed, 2),
        "statements_per_message": round(figures["statements"] / processed, 2),
        "sql_ms_per_message": round(1000 * figures["sql_seconds"] / processed, 2),
        "peak_rss_mb": round(figures["peak_rss_mb"], 1),
        "load_average_before": [round(v, 2) for v in figures["load_average_before"]],
        "load_average_after": [round(v, 2) for v in figures["load_average_after"]],
        "rows": figures["rows"],
        "outbox_files": figures["outbox_files"],
        "migrate_seconds": figures["migrate_seconds"],
        "run_seconds": round(run_seconds, 1),
        "threading": _threading(specs, tickets),
        "mix": inbound.mix(specs),
    }
    print(
        f"  {result['processed']} processed in {result['wall_seconds']} s:"
        f" {result['messages_per_second']} msg/s, {result['cpu_ms_per_message']} ms CPU per"
        f" mail; threading {result['threading']['accuracy_percent']}%",
        flush=True,
    )
    if not options.get("skip_profile"):
        count = min(PROFILE_MESSAGES, messages)
        print(f"  profile: the first {count} messages again under cProfile", flush=True)
        profiled, _ = _import(context, python, specs[:count], profile=True)
        result["profile"] = {
            "messages": profiled["processed"],
            "cpu_ms_per_message": round(
                1000 * profiled["cpu_seconds"] / max(1, profiled["processed"]), 2
            ),
            "cumulative_ms_per_message": profiled["profile"],
        }
    return result


def _ours() -> dict[str, Any] | None:
    """Our inbound benchmark's latest run (its first worker configuration), if any."""
    from bench.run import RESULTS_DIR

    latest = RESULTS_DIR / "latest-inbound.json"
    if not latest.exists():
        return None
    document = json.loads(latest.read_text())
    runs = document["result"].get("runs") or []
    if not runs:
        return None
    saturation = runs[0]["saturation"]
    cpu = saturation["cpu_ms_per_message"]
    return {
        "date": document["machine"]["date"],
        "commit": document["machine"]["commit"],
        "messages": saturation["messages"],
        "messages_per_second": saturation["messages_per_second"],
        "application_cpu_ms": round(
            cpu.get("worker", 0.0) + cpu.get("bench process (producers)", 0.0), 2
        ),
        "worker_cpu_ms": cpu.get("worker"),
        "postgres_cpu_ms": cpu.get("postgres"),
        "statements_per_message": (document["result"].get("batch_sql") or {}).get(
            "statements_per_message"
        ),
        "load_average_before": runs[0]["load_average_before"],
        "threading_percent": saturation["threading"]["accuracy_percent"],
    }


def _ratio(numerator: float | None, denominator: float | None) -> str:
    if not numerator or not denominator:
        return "-"
    return f"{numerator / denominator:.1f}x"


def markdown(result: dict[str, Any]) -> str:
    """The README section: django-helpdesk's figures next to our latest inbound run."""
    lines = ["### django-helpdesk on the same mail", ""]
    if result.get("skipped"):
        return "\n".join([*lines, f"Skipped: {result['skipped']}."])
    ours = _ours()
    threading = result["threading"]
    rows: list[list[Any]] = [
        [
            "messages processed / failed",
            f"{result['processed']:,} of {result['messages']:,} / {result['failed']}",
            f"{ours['messages']:,}" if ours else "-",
            "",
        ],
        [
            "**throughput**",
            f"**{result['messages_per_second']} msg/s** ({result['wall_seconds']} s, one process)",
            f"**{ours['messages_per_second']} msg/s**" if ours else "-",
            f"**{_ratio(ours['messages_per_second'], result['messages_per_second'])}**"
            if ours
            else "-",
        ],
        [
            "**application CPU ms per mail** (django-helpdesk's process; our worker and producers)",
            f"**{result['cpu_ms_per_message']}**",
            f"**{ours['application_cpu_ms']}**" if ours else "-",
            f"**{_ratio(result['cpu_ms_per_message'], ours['application_cpu_ms'])}**"
            if ours
            else "-",
        ],
        [
            "PostgreSQL CPU ms per mail (its own backend; ours: the whole server)",
            str(result["postgres_cpu_ms_per_message"] or "-"),
            str(ours["postgres_cpu_ms"]) if ours else "-",
            "",
        ],
        [
            "SQL statements per mail",
            f"{result['statements_per_message']} ({result['sql_ms_per_message']} ms)",
            str(ours["statements_per_message"] or "-") if ours else "-",
            _ratio(result["statements_per_message"], ours["statements_per_message"])
            if ours
            else "-",
        ],
        [
            "threading accuracy",
            f"{threading['accuracy_percent']}% ({threading['threaded']:,} of"
            f" {threading['replies']:,})"
            if threading["replies"]
            else "no replies",
            f"{ours['threading_percent']}%" if ours else "-",
            "",
        ],
        [
            "tickets / follow-ups / attachments / mails sent",
            f"{result['rows']['tickets']:,} / {result['rows']['follow_ups']:,} /"
            f" {result['rows']['attachments']:,} / {result['outbox_files']:,}",
            "",
            "",
        ],
        ["peak memory", f"{result['peak_rss_mb']} MB (one process)", "", ""],
        [
            "load average before",
            ", ".join(map(str, result["load_average_before"])),
            ", ".join(map(str, ours["load_average_before"])) if ours else "-",
            "",
        ],
    ]
    header = [
        "",
        f"django-helpdesk {result['version']} (Django {result['django']})",
        f"ours ({ours['date']}, {ours['commit']})" if ours else "ours",
        "ours ahead by",
    ]
    lines += [
        f"{result['messages']:,} messages (seed {result['seed']}, the inbound benchmark's),"
        f" imported by `helpdesk.email.extract_email_metadata` in arrival order;"
        " replies it cannot thread by In-Reply-To carry its `[bench-<id>]` subject tag.",
        "",
        *inbound._table(header, rows),
    ]
    profile = result.get("profile")
    if profile:
        steps = dict(profile["cumulative_ms_per_message"])
        total = steps.pop("total")
        lines += [
            "",
            f"Where django-helpdesk's CPU goes: cProfile (CPU time) over the first"
            f" {profile['messages']:,} mails again ({total} ms per mail with the profiler on;"
            " cumulative, so a step includes its SQL and the indented steps are part of the"
            " one above them):",
            "",
            *inbound._table(
                ["step", "CPU ms per mail", "share"],
                [
                    [
                        label.strip() if not label.startswith(" ") else f"- {label.strip()}",
                        ms,
                        f"{100 * ms / total:.0f}%" if total else "-",
                    ]
                    for label, ms in steps.items()
                ],
            ),
        ]
    if result["failure_reasons"]:
        lines += ["", "Failures: " + "; ".join(f"{r} ({n})" for r, n in result["failure_reasons"])]
    return "\n".join(lines)
