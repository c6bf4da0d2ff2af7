"""What an agent's message carries besides its words: the editor's formatting with its
pasted pictures, and the extra people a reply is copied to."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models
from django.urls import reverse

from departments import selectors as department_selectors
from tickets.errors import AddressInvalid
from tickets.mail_in.intake import base_address
from tickets.models import Ticket
from tickets.ticket import formatting
from tickets.ticket.services.messages import NewAttachment

MAX_COPIED = 20
_SEPARATORS = re.compile(r"[,;\s]+")

__all__ = [
    "AddressInvalid",
    "BodyFormat",
    "check_not_ours",
    "copied_addresses",
    "formatted_body",
    "parse_addresses",
]


class BodyFormat(models.TextChoices):
    TEXT = "text", "Plain text"
    MARKDOWN = "markdown", "Formatted (Markdown)"


def parse_addresses(raw: str | Iterable[str], *, field: str = "cc") -> list[str]:
    """Addresses from what an agent typed (commas, semicolons or spaces between them),
    each checked, in order, without repeats (case-insensitive). Raises AddressInvalid
    naming the first that is not an address, or when there are more than MAX_COPIED."""
    parts = [raw] if isinstance(raw, str) else list(raw)
    found: dict[str, str] = {}
    for part in parts:
        for address in _SEPARATORS.split(part.strip()):
            address = address.strip().strip("<>")
            if not address:
                continue
            try:
                validate_email(address)
            except ValidationError:
                raise AddressInvalid(
                    f"“{address[:80]}” is not an email address.", field=field
                ) from None
            found.setdefault(address.lower(), address)
    if len(found) > MAX_COPIED:
        raise AddressInvalid(f"Copy at most {MAX_COPIED} addresses.", field=field)
    return list(found.values())


def check_not_ours(addresses: Iterable[str], field: str) -> None:
    """Raises AddressInvalid for one of the tenant's own mailbox addresses (or aliases)."""
    own = department_selectors.own_addresses()
    for address in addresses:
        if address.lower() in own or base_address(address.lower()) in own:
            raise AddressInvalid(
                f"{address} is one of this help desk's own addresses: mail to it would come "
                "back as a new ticket.",
                field=field,
            )


def copied_addresses(
    *, ticket: Ticket, cc: str | Iterable[str], bcc: str | Iterable[str]
) -> tuple[list[str], list[str]]:
    """The Cc and Bcc of one reply, checked: real addresses, none of our own mailboxes, and
    not the requester (who gets the reply anyway). Raises AddressInvalid."""
    cc_list = parse_addresses(cc, field="cc")
    bcc_list = parse_addresses(bcc, field="bcc")
    requester = ticket.contact.email.lower()
    cc_list = [a for a in cc_list if a.lower() != requester]
    copied = {a.lower() for a in cc_list}
    bcc_list = [a for a in bcc_list if a.lower() != requester and a.lower() not in copied]
    check_not_ours(cc_list, "cc")
    check_not_ours(bcc_list, "bcc")
    return cc_list, bcc_list


def formatted_body(
    body: str, body_format: str, inline_images: Iterable[NewAttachment]
) -> tuple[str, str, list[NewAttachment]]:
    """(plain text, sanitized HTML, the pictures it shows) of an agent's message. Plain
    text has no HTML and no pictures; pasted pictures the text no longer shows are not
    kept."""
    if body_format != BodyFormat.MARKDOWN:
        return body, "", []
    wanted = formatting.inline_tokens(body)
    pictures = [
        dataclasses.replace(image, is_inline=True)
        for image in inline_images
        if image.content_id in wanted and image.content_type.startswith("image/")
    ]
    urls = {image.content_id: reverse("tickets:attachment", args=[image.id]) for image in pictures}
    return (
        formatting.render_text(body),
        formatting.render_html(body, inline_urls=urls),
        pictures,
    )
