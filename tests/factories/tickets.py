"""Factories for ticket rows; they create in the current tenant context."""

from __future__ import annotations

import itertools
from typing import Any

from departments import selectors as department_selectors
from tickets.models import Contact, Ticket
from tickets.ticket import services

_contacts = itertools.count()


def make_contact(**fields: Any) -> Contact:
    """A contact with a unique address and a name unless given."""
    number = next(_contacts)
    fields.setdefault("email", f"customer{number}@example.test")
    fields.setdefault("name", f"Customer {number}")
    return Contact.objects.create(**fields)


def make_ticket(subject: str = "Help please", body: str = "It is broken.", **kwargs: Any) -> Ticket:
    """A ticket made through the real service (numbering, first message, search vector)."""
    contact = kwargs.pop("contact", None) or make_contact()
    department = kwargs.pop("department", None) or department_selectors.get_default_department()
    return services.create_ticket(
        subject=subject, body=body, contact=contact, department=department, **kwargs
    )
