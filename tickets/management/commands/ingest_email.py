"""`manage.py ingest_email [--to ADDRESS] [FILE ...]`: mail from files or stdin (an MTA pipe).

Each message is stored like any other channel's and processed before the command returns.
One line per message: `#123` (the ticket), or `rejected: reason` / `failed: reason`.
Exit status 0 when every message was processed or rejected with a reason; 75 (EX_TEMPFAIL,
so an MTA retries) when a message could not be stored at all.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any
from uuid import UUID

from django.core.management.base import BaseCommand, CommandParser

from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import Tenant
from tickets.mail_in import intake
from tickets.mail_in import services as inbound
from tickets.models import InboundEmail, InboundEmailStatus

EX_TEMPFAIL = 75


class Command(BaseCommand):
    help = "Ingest raw RFC 822 mail from files or stdin; print one line per message."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="*", help="files with one message each; none: stdin")
        parser.add_argument(
            "--to",
            action="append",
            default=[],
            metavar="ADDRESS",
            help="envelope recipient (as an MTA pipe passes it); repeatable",
        )
        parser.add_argument(
            "--from", dest="sender", default="", metavar="ADDRESS", help="envelope sender"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        sources = options["files"] or ["-"]
        failures = 0
        for source in sources:
            try:
                raw = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
            except OSError as error:
                self.stdout.write(f"failed: cannot read {source}: {error.strerror}")
                failures += 1
                continue
            try:
                self.stdout.write(self._ingest(raw, options["to"], options["sender"]))
            except Exception as error:
                self.stdout.write(f"failed: {type(error).__name__}: {error}")
                failures += 1
        if failures:
            sys.exit(EX_TEMPFAIL)

    def _ingest(self, raw: bytes, envelope_to: list[str], sender: str) -> str:
        if not raw.strip():
            return "rejected: empty message"
        accepted = intake.accept(
            raw=raw, envelope_to=envelope_to, envelope_from=sender, channel="pipe", enqueue=False
        )
        if accepted is None:
            return "rejected: no tenant owns any recipient"
        language = Tenant.objects.values_list("language", flat=True).get(id=accepted.tenant_id)
        with tenant_context(accepted.tenant_id):
            email = inbound.process_inbound_email(
                email_id=UUID(accepted.email_id), language=language
            )
            email = InboundEmail.objects.select_related("ticket").get(id=email.id)
        if email.status == InboundEmailStatus.PROCESSED and email.ticket is not None:
            return f"#{email.ticket.number}"
        return f"{email.status}: {email.reason or 'no reason recorded'}"
