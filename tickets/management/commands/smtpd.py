"""`manage.py smtpd --port 2525`: an SMTP listener that feeds the durable intake.

550 at RCPT for addresses no tenant owns, 552 over the size limit, 250 only after the
raw mail is committed. When the database (or anything else) fails, every stage answers
`451 4.3.0`, a temporary failure: the sending server keeps the mail and tries again later,
where a 5xx would bounce it to the customer. Replies are fixed, one-line strings: an error's
text (socket paths, line breaks that would split the reply) never reaches the client.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections

from helpdesk.core.errors import is_infrastructure_error
from tickets.mail_in import intake

logger = logging.getLogger(__name__)
TEMPORARY_FAILURE = "451 4.3.0 Temporary failure, please try again later"


def _temporary_failure(stage: str, error: BaseException) -> str:
    """Log the error with its details; answer the client with the fixed 451 line. Even an
    error of ours (not an outage) is worth a retry by the sender rather than a bounce."""
    if is_infrastructure_error(error):
        logger.warning("%s: service unavailable, answered 451: %r", stage, error)
    else:
        logger.error("%s failed, answered 451", stage, exc_info=error)
    return TEMPORARY_FAILURE


def _resolve(address: str) -> Any:
    close_old_connections()
    return intake.find_inbound_address(address)


def _store(raw: bytes, mail_from: str, recipients: list[str]) -> list[str]:
    close_old_connections()
    stored = []
    seen_tenants: set[str] = set()
    for recipient in recipients:
        row = intake.find_inbound_address(recipient)
        if row is None or str(row.tenant_id) in seen_tenants:
            continue  # one copy per tenant, whatever the number of its addresses in RCPT
        seen_tenants.add(str(row.tenant_id))
        accepted = intake.store_inbound_email(
            raw=raw, recipient=row, envelope_from=mail_from, envelope_to=recipients, channel="smtp"
        )
        stored.append(accepted.email_id)
    return stored


class IntakeHandler:
    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        try:
            row = await sync_to_async(_resolve, thread_sensitive=False)(address)
        except Exception as error:
            return _temporary_failure("RCPT", error)
        if row is None:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        raw = envelope.original_content or b""
        try:
            stored = await sync_to_async(_store, thread_sensitive=False)(
                raw, envelope.mail_from or "", list(envelope.rcpt_tos)
            )
        except Exception as error:
            return _temporary_failure("DATA", error)
        logger.info("stored inbound mail %s", ", ".join(stored))
        return "250 2.0.0 Message accepted"

    async def handle_exception(self, error: Exception) -> str:
        """aiosmtpd's hook for an error anywhere else in a session; without it the client
        would get `500 Error: (<class>) <text>`, a permanent failure carrying the text."""
        return _temporary_failure("SMTP session", error)


class Command(BaseCommand):
    help = "Run the inbound SMTP listener."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=2525)

    def handle(self, *args: Any, **options: Any) -> None:
        limit = settings.HELPDESK_MAX_MESSAGE_BYTES
        controller = Controller(
            IntakeHandler(),
            hostname=options["host"],
            port=options["port"],
            data_size_limit=limit,
            decode_data=False,
            server_hostname="helpdesk",
        )
        controller.start()
        self.stdout.write(f"smtpd listening on {options['host']}:{options['port']}")
        loop = asyncio.new_event_loop()
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        try:
            loop.run_until_complete(stop.wait())
        finally:
            controller.stop()
            loop.close()
