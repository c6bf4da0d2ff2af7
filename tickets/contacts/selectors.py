"""Reads of contacts and companies."""

from __future__ import annotations

from uuid import UUID

from django.db.models import (
    Case,
    Count,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Lower, NullIf

from tickets.errors import (
    CompanyNotFound,
    ContactNotFound,
)
from tickets.models import (
    RESOLVED_STATUSES,
    Company,
    Contact,
    Message,
    Tag,
    Ticket,
    TicketFollower,
)


def list_contact_tickets(
    contact: Contact, *, exclude_id: UUID | None = None, limit: int = 10
) -> list[Ticket]:
    """The customer's other tickets, newest first (sidebar)."""
    tickets = Ticket.objects.filter(contact=contact).order_by("-created_at")
    if exclude_id:
        tickets = tickets.exclude(id=exclude_id)
    return list(tickets[:limit])


def contacts_with_email(email: str) -> QuerySet[Contact]:
    """Contacts with this address regardless of case: by the stored lowercase `email_key`,
    which the unique index (tenant, email_key) serves under row-level security (`iexact`,
    or lower(email), would read every contact of the tenant, once for each inbound mail)."""
    return Contact.objects.filter(email_key=email.strip().lower())


def find_contact_by_email(email: str) -> Contact | None:
    """The contact with this address; for a merged duplicate, the contact it was merged into."""
    contact = contacts_with_email(email).first()  # merged ones are rare: no join for them
    return surviving(contact) if contact is not None else None


def surviving(contact: Contact) -> Contact:
    """The contact itself, or for a merged duplicate the one it was merged into (which
    holds its tickets now): for a customer who signed in, or got a link, before the merge."""
    for _ in range(5):  # a merge points at a contact that is not merged itself
        if not contact.merged_into_id:
            break
        contact = contact.merged_into  # type: ignore[assignment]  # merged_into_id is set
    return contact


def list_contacts(q: str | None = None) -> QuerySet[Contact]:
    """Contacts by display name with their company and ticket count; merged duplicates left
    out. `q` matches part of the name, email or company name."""
    # A subquery, not Count(): the paginator's count() can then skip it (no GROUP BY).
    asked = (
        Ticket.objects.filter(contact=OuterRef("pk"))
        .order_by()
        .values("contact")
        .annotate(total=Count("id"))
        .values("total")
    )
    contacts = (
        Contact.objects.filter(merged_into__isnull=True)
        .select_related("company")
        .annotate(ticket_count=Coalesce(Subquery(asked), 0))
    )
    if q:
        contacts = contacts.filter(
            Q(name__icontains=q) | Q(email__icontains=q) | Q(company__name__icontains=q)
        )
    # Named contacts by name, then the nameless by address.
    return contacts.order_by(
        NullIf(Lower("name"), Value("")).asc(nulls_last=True), Lower("email"), "id"
    )


def get_contact(contact_id: UUID) -> Contact:
    """One contact, merged duplicates included (pages send those on to `merged_into`);
    raises ContactNotFound."""
    contact = Contact.objects.select_related("company").filter(id=contact_id).first()
    if contact is None:
        raise ContactNotFound(contact_id=str(contact_id))
    return contact


def list_merged_duplicates(contact: Contact) -> QuerySet[Contact]:
    """The contacts merged into this one (their addresses still reach it)."""
    return Contact.objects.filter(merged_into=contact).order_by("email")


def count_contact_references(contact: Contact) -> dict[str, int]:
    """What a merge would move: tickets asked, tickets followed, messages written."""
    return {
        "tickets": Ticket.objects.filter(contact=contact).count(),
        "follows": TicketFollower.objects.filter(contact=contact).count(),
        "messages": Message.objects.filter(author_contact=contact).count(),
    }


def list_tickets_of_contact(contact: Contact, *, open_first: bool = False) -> QuerySet[Ticket]:
    """Every ticket the contact asked, newest first, with what lists show; `open_first`
    puts the requests still in progress (open, waiting, on hold) before the finished ones
    (the contact page)."""
    return _ticket_list(Ticket.objects.filter(contact=contact), open_first=open_first)


def list_companies(q: str | None = None) -> QuerySet[Company]:
    """Companies by name with their number of contacts; `q` matches name or a domain."""
    companies = Company.objects.annotate(
        contact_count=Count("contacts", filter=Q(contacts__merged_into__isnull=True))
    )
    if q:
        companies = companies.filter(Q(name__icontains=q) | Q(domains__icontains=q))
    return companies.order_by(Lower("name"), "id")


def get_company(company_id: UUID | str) -> Company:
    """One company; raises CompanyNotFound."""
    company = Company.objects.filter(id=company_id).first()
    if company is None:
        raise CompanyNotFound(company_id=str(company_id))
    return company


def list_company_contacts(company: Company) -> QuerySet[Contact]:
    """The company's contacts (merged duplicates left out), by display name."""
    return list_contacts().filter(company=company)


def list_tickets_of_company(company: Company, *, open_first: bool = False) -> QuerySet[Ticket]:
    """Every ticket of the company's contacts, newest first (`open_first`: see
    list_tickets_of_contact)."""
    return _ticket_list(Ticket.objects.filter(contact__company=company), open_first=open_first)


def _ticket_list(tickets: QuerySet[Ticket], *, open_first: bool = False) -> QuerySet[Ticket]:
    tickets = tickets.select_related("contact", "department", "assignee__user").prefetch_related(
        Prefetch("tags", queryset=Tag.objects.order_by("name"))
    )
    if open_first:
        finished = Case(
            When(status__in=RESOLVED_STATUSES, then=Value(1)),
            default=Value(0),
            output_field=IntegerField(),
        )
        return tickets.order_by(finished, "-created_at", "-id")
    return tickets.order_by("-created_at", "-id")
