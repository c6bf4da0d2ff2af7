"""`make run`: web, Celery worker, beat and the SMTP listener as one foreground group.

The children are supervised (helpdesk.ops.supervisor): one that dies (a crash, a kill, the
OOM killer) is logged and started again with a backoff, while the others keep running.
Only Ctrl-C (SIGINT) or SIGTERM stops the stack: every child (its whole process group, so
runserver's reloader and the worker's pool go too), then the embedded PostgreSQL and Redis
when they are in use.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from helpdesk.core import embedded
from helpdesk.ops.management.commands.seed_demo import DEMO_PASSWORD, DEMO_PEOPLE, PLATFORM_STAFF
from helpdesk.ops.supervisor import Supervisor


class Command(BaseCommand):
    help = "Run web (:8000), worker, beat and smtpd (:2525) until Ctrl-C."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--smtp-port", type=int, default=2525)
        parser.add_argument("--bind", default="127.0.0.1")

    def handle(self, *args: Any, **options: Any) -> None:
        python = sys.executable
        manage = str(settings.BASE_DIR / "manage.py")
        celery = [python, "-m", "celery", "-A", "helpdesk"]
        var = str(settings.VAR_DIR)
        children = {
            "web": [python, manage, "run_web", f"{options['bind']}:{options['port']}"],
            "worker": [
                *celery,
                "worker",
                "-Q",
                "default,email,automation",
                "--concurrency",
                "2",
                "-l",
                "info",
                "-n",
                "worker@%h",
            ],
            "beat": [
                *celery,
                "beat",
                "-l",
                "info",
                "--schedule",
                f"{var}/celerybeat-schedule",
                "--pidfile=",
            ],
            "smtpd": [
                python,
                manage,
                "smtpd",
                "--host",
                options["bind"],
                "--port",
                str(options["smtp_port"]),
            ],
        }
        supervisor = Supervisor(children, report=self._report)

        def request_stop(signum: int, frame: Any) -> None:
            supervisor.stopping = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        # Links in mail and pages (tracking, satisfaction, help center) name the port the
        # web process answers on, unless the environment says otherwise.
        supervisor.environment.setdefault("HELPDESK_PUBLIC_PORT", str(options["port"]))
        supervisor.start()
        self._banner(options)
        supervisor.run()
        if not os.environ.get("DATABASE_URL"):
            embedded.stop_postgres()
        if not os.environ.get("REDIS_URL"):
            embedded.stop_redis()
        self.stdout.write("stopped")

    def _report(self, line: str) -> None:
        self.stderr.write(f"[run_all] {line}")

    def _banner(self, options: dict[str, Any]) -> None:
        self.stdout.write(banner(options))


def banner(options: dict[str, Any]) -> str:
    """What `make run` prints once everything is starting: addresses, logins, warnings."""
    base = settings.HELPDESK_BASE_DOMAIN
    port = options["port"]
    lines = [
        "",
        "Help desk is starting:",
        f"  agents:   http://demo.{base}:{port}/",
        f"  API docs: http://demo.{base}:{port}/api/docs/",
        f"  platform: http://{base}:{port}/  (tenants, outbox)",
        f"  health:   http://{base}:{port}/healthz",
        f"  SMTP:     {options['bind']}:{options['smtp_port']} "
        f"(mail to support@demo.{base} becomes a ticket)",
        "",
        f"Demo logins (password: {DEMO_PASSWORD}):",
        *[f"  {email:<24} {role}" for email, _, role in DEMO_PEOPLE],
        f"  {PLATFORM_STAFF[0]:<24} platform staff",
        "",
    ]
    if not settings.ANYMAIL.get("WEBHOOK_SECRET"):
        lines += [
            "ESP webhooks (/anymail/<esp>/inbound/ and /tracking/) answer 403: to use them,",
            "  set ANYMAIL_WEBHOOK_SECRET=user:password and give the ESP",
            f"  http://user:password@demo.{base}:{port}/anymail/<esp>/inbound/",
            "",
        ]
    lines += ["Ctrl-C stops everything.", ""]
    return "\n".join(lines)
