"""`manage.py ingest_email [--to ADDRESS] [FILE ...]`: mail from files or stdin (an MTA pipe).

Each message is stored like any other channel's, then processed before the command returns,
in batches through the drain's path (`services.process_batch`), a tenant at a time.
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
from tickets.mail_in.tasks import BATCH_SIZE
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
        # Every message is stored first (each its own commit, as any channel stores it),
        # then each tenant's stored mail is processed as one batch, the drain's path; the
        # lines come out in input order.
        lines: list[str | None] = []
        stored: list[tuple[int, intake.Accepted]] = []
        failures = 0
        for source in sources:
            try:
                raw = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
            except OSError as error:
                lines.append(f"failed: cannot read {source}: {error.strerror}")
                failures += 1
                continue
            try:
                accepted = self._store(raw, options["to"], options["sender"])
            except Exception as error:
                lines.append(f"failed: {type(error).__name__}: {error}")
                failures += 1
                continue
            if isinstance(accepted, str):
                lines.append(accepted)
            else:
                stored.extend((len(lines), copy) for copy in accepted)
                lines.append(None)
        for position, result in self._process(stored).items():
            lines[position] = result
        for line in lines:
            if line is None or "failed: could not process" in line:
                failures += 1
            self.stdout.write(line or "failed: not processed")
        if failures:
            sys.exit(EX_TEMPFAIL)

    def _store(
        self, raw: bytes, envelope_to: list[str], sender: str
    ) -> list[intake.Accepted] | str:
        """A copy for each tenant among the recipients, or the line saying why none."""
        if not raw.strip():
            return "rejected: empty message"
        accepted = intake.accept_for_each_tenant(
            raw=raw, envelope_to=envelope_to, envelope_from=sender, channel="pipe", enqueue=False
        )
        if not accepted:
            return "rejected: no tenant owns any recipient"
        return accepted

    def _process(self, stored: list[tuple[int, intake.Accepted]]) -> dict[int, str]:
        """Each tenant's stored mail processed in batches (services.process_batch); the line
        for each position."""
        by_tenant: dict[str, list[tuple[int, UUID]]] = {}
        for position, accepted in stored:
            by_tenant.setdefault(accepted.tenant_id, []).append((position, UUID(accepted.email_id)))
        lines: dict[int, str] = {}
        for tenant_id, entries in by_tenant.items():
            tenant = Tenant.objects.only("language", "name").get(id=tenant_id)
            ids = list(dict.fromkeys(email_id for _, email_id in entries))
            results: dict[int, str] = {}
            try:
                for start in range(0, len(ids), BATCH_SIZE):
                    with tenant_context(tenant_id):
                        inbound.process_batch(
                            limit=BATCH_SIZE,
                            email_ids=ids[start : start + BATCH_SIZE],
                            language=tenant.language,
                            tenant_name=tenant.name,
                        )
                with tenant_context(tenant_id):
                    # A drain (woken by other mail) may have claimed some of these meanwhile:
                    # wait for it to end, then process what it left queued.
                    held = list(
                        InboundEmail.objects.select_for_update()
                        .filter(id__in=ids, status=InboundEmailStatus.QUEUED)
                        .values_list("id", flat=True)
                    )
                    if held:
                        inbound.process_batch(
                            limit=len(held),
                            email_ids=held,
                            language=tenant.language,
                            tenant_name=tenant.name,
                        )
            except Exception as error:
                # An outage: what was not processed stays queued for the drain and sweeper.
                for position, _ in entries:
                    results[position] = (
                        f"failed: could not process: {type(error).__name__}: {error}"
                    )
            with tenant_context(tenant_id):
                emails = {
                    email.id: email
                    for email in InboundEmail.objects.select_related("ticket").filter(id__in=ids)
                }
            for position, email_id in entries:
                if position in results and emails[email_id].status == InboundEmailStatus.QUEUED:
                    continue
                results[position] = _line(emails[email_id])
            for position, result in results.items():
                # One mail for two tenants: one line with both results.
                lines[position] = f"{lines[position]} {result}" if position in lines else result
        return lines


def _line(email: InboundEmail) -> str:
    if email.status == InboundEmailStatus.PROCESSED and email.ticket is not None:
        return f"#{email.ticket.number}"
    return f"{email.status}: {email.reason or 'no reason recorded'}"
