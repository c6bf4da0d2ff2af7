"""Factories for ticket rows; they create in the current tenant context."""

from __future__ import annotations

from typing import Any

import factory

from departments import selectors as department_selectors
from tickets.models import Contact, Ticket
from tickets.ticket import services


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    email = factory.Sequence(lambda n: f"customer{n}@example.test")
    name = factory.Sequence(lambda n: f"Customer {n}")


def make_ticket(subject: str = "Help please", body: str = "It is broken.", **kwargs: Any) -> Ticket:
    """A ticket made through the real service (numbering, first message, search vector)."""
    contact = kwargs.pop("contact", None) or ContactFactory()
    department = kwargs.pop("department", None) or department_selectors.get_default_department()
    return services.create_ticket(
        subject=subject, body=body, contact=contact, department=department, **kwargs
    )
