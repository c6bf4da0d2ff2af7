"""Contacts met through tickets: found or created by address, copied as followers."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import IntegrityError, transaction

from tickets.contacts import selectors as contact_selectors
from tickets.models import (
    CompanyDomain,
    Contact,
    Ticket,
    TicketFollower,
)


@transaction.atomic(savepoint=False)
def get_or_create_contact(*, email: str, name: str = "") -> Contact:
    """The contact with this address (case-insensitive); created with its company if new.

    Two mails from a new address processed at once both find nobody: the second insert
    waits for the first and fails on the unique (tenant, lower(email)) index once that
    commits, and then reads the contact the first one made."""
    email = email.strip()
    contact = contact_selectors.find_contact_by_email(email)
    if contact is not None:
        if name and not contact.name:
            contact.name = name
            contact.save(update_fields=["name", "updated_at"])
        return contact
    domain = email.rsplit("@", 1)[-1].lower()
    claimed = CompanyDomain.objects.select_related("company").filter(domain=domain).first()
    company = claimed.company if claimed is not None else None
    try:
        with transaction.atomic():
            return Contact.objects.create(email=email, name=name.strip(), company=company)
    except IntegrityError:
        contact = contact_selectors.find_contact_by_email(email)
        if contact is None:
            raise
        return contact


@transaction.atomic(savepoint=False)
def add_followers(*, ticket: Ticket, emails: Iterable[str]) -> list[Contact]:
    """Copy these addresses on the ticket (Cc): each becomes a contact and a follower."""
    added = []
    for email in emails:
        contact = get_or_create_contact(email=email)
        if contact.id == ticket.contact_id:
            continue
        _, created = TicketFollower.objects.get_or_create(ticket=ticket, contact=contact)
        if created:
            added.append(contact)
    return added
