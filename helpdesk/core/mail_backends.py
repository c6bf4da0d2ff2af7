"""Development email backend: every message is written to var/outbox/ as an .eml file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone

from helpdesk.core.ids import new_id


class OutboxBackend(BaseEmailBackend):
    """Writes `<timestamp>-<id>.eml` files, readable by any mail client, under the outbox."""

    def __init__(self, fail_silently: bool = False, **kwargs: Any) -> None:
        super().__init__(fail_silently=fail_silently)
        self.directory = Path(kwargs.get("directory") or settings.HELPDESK_OUTBOX_DIR)

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        self.directory.mkdir(parents=True, exist_ok=True)
        sent = 0
        for message in email_messages:
            stamp = timezone.now().strftime("%Y%m%dT%H%M%S")
            path = self.directory / f"{stamp}-{new_id()}.eml"
            # Django's SafeMIME classes take linesep; the stubs type message() as a plain Message.
            path.write_bytes(message.message().as_bytes(linesep="\r\n"))  # type: ignore[call-arg]
            sent += 1
        return sent
