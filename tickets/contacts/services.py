"""Contacts and companies: editing them and merging duplicate contacts.

Invariants: a contact's email is unique in the tenant (case-insensitive) and a company's name
too; a company's domains are lowercase bare domains, each claimed by one company only;
custom field values pass `configuration.clean_custom_values`; light agents may look but not
change anything. A merged duplicate keeps its row (mail from its address still resolves)
with `merged_into` pointing at the survivor, never at another duplicate.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.core.validators import DomainNameValidator, validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from helpdesk.tenancy import permissions
from helpdesk.tenancy.models import Membership
from helpdesk.tenancy.permissions import Capability
from tickets.configuration import services as configuration
from tickets.contacts import selectors as contact_selectors
from tickets.contacts import tasks as contact_tasks
from tickets.errors import CompanyNotFound, ContactInvalid
from tickets.models import (
    Company,
    CompanyDomain,
    Contact,
    Message,
    SatisfactionRating,
    Ticket,
    TicketFollower,
)
from tickets.ticket import services

MAX_DOMAINS = 50
# What a merge copies onto the survivor when the survivor has no value of its own.
FILLED_FIELDS = ("name", "phone", "notes", "company")
_validate_domain = DomainNameValidator()


def _check_can_change(actor: Membership | None) -> None:
    # Light agents work internal notes only; contacts and companies are customer records.
    permissions.require(actor, Capability.CHANGE_CONTACTS)


def _clean_email(email: str) -> str:
    email = email.strip()
    try:
        validate_email(email)
    except ValidationError:
        raise ContactInvalid(f"{email!r} is not a valid email address.", field="email") from None
    if len(email) > 254:
        raise ContactInvalid("An email address has at most 254 characters.", field="email")
    return email


def _one_line(value: str, limit: int) -> str:
    return " ".join(value.split())[:limit]


@transaction.atomic
def update_contact(
    contact: Contact,
    *,
    name: str,
    email: str,
    phone: str,
    notes: str,
    company: Company | None,
    custom_fields: Mapping[str, Any],
    actor: Membership | None,
    language: str = "en",
) -> Contact:
    """Change a contact's details. `custom_fields` holds raw values by key (an empty value
    removes a key; keys not given keep their value).

    Raises ContactInvalid (bad or taken email, a merged contact), CustomFieldInvalid,
    PermissionDenied (light agents). The search documents of the contact's tickets follow a
    new name, email or company.
    """
    _check_can_change(actor)
    if contact.merged_into_id:
        raise ContactInvalid("This contact was merged into another one; edit that contact.")
    email = _clean_email(email)
    taken = contact_selectors.contacts_with_email(email).exclude(id=contact.id).first()
    if taken is not None:
        raise ContactInvalid(f"Another contact already uses {taken.email}.", field="email")
    if company is not None and company.tenant_id != contact.tenant_id:
        raise CompanyNotFound(company_id=str(company.id))
    # Check everything before touching the instance: callers may show it after an error.
    values = configuration.clean_custom_values(
        "contact", custom_fields, current=contact.custom_fields
    )
    searchable_before = (contact.name, contact.email, contact.company_id)
    contact.name = _one_line(name, 200)
    contact.email = email
    contact.phone = _one_line(phone, 40)
    contact.notes = notes.strip()
    contact.company = company
    contact.custom_fields = values
    try:
        with transaction.atomic():
            contact.save()
    except IntegrityError:
        # Another request took the address between our check and the save.
        raise ContactInvalid(f"Another contact already uses {email}.", field="email") from None
    if searchable_before != (contact.name, contact.email, contact.company_id):
        _refresh_tickets(Ticket.objects.filter(contact=contact), language)
    return contact


def _refresh_tickets(tickets: Iterable[Ticket], language: str) -> None:
    # A ticket's search document holds its customer's name, email and company.
    for ticket in tickets:
        services.refresh_search_vector(ticket=ticket, language=language)


def clean_domains(domains: Iterable[str]) -> list[str]:
    """Lowercase bare domains (`@Example.com`, `https://example.com/` → `example.com`),
    each once, in the order given. Raises ContactInvalid naming a bad one."""
    cleaned: list[str] = []
    for raw in domains:
        domain = raw.strip().lower()
        domain = domain.split("://", 1)[-1].split("/", 1)[0].lstrip("@").rstrip(".")
        if not domain:
            continue
        try:
            _validate_domain(domain)
        except ValidationError:
            raise ContactInvalid(
                f"{raw.strip()!r} is not a domain like example.com.", field="domains"
            ) from None
        if domain not in cleaned:
            cleaned.append(domain)
    if len(cleaned) > MAX_DOMAINS:
        raise ContactInvalid(f"A company has at most {MAX_DOMAINS} domains.", field="domains")
    return cleaned


def _save_company(
    company: Company,
    *,
    name: str,
    domains: Iterable[str],
    notes: str,
    custom_fields: Mapping[str, Any],
) -> Company:
    name = _one_line(name, 200)
    if not name:
        raise ContactInvalid("A company needs a name.", field="name")
    others = Company.objects.exclude(id=company.id)
    if others.filter(name__iexact=name).exists():
        raise ContactInvalid(f"There is already a company named {name!r}.", field="name")
    cleaned_domains = clean_domains(domains)
    # New contacts join the company owning their email's domain: one owner per domain.
    claimed = (
        CompanyDomain.objects.select_related("company")
        .filter(domain__in=cleaned_domains)
        .exclude(company_id=company.id)
        .order_by("domain")
        .first()
        if cleaned_domains
        else None
    )
    if claimed is not None:
        raise ContactInvalid(
            f"{claimed.domain} already belongs to {claimed.company.name}.", field="domains"
        )
    values = configuration.clean_custom_values(
        "company", custom_fields, current=company.custom_fields
    )
    added = set(cleaned_domains) - set(company.domains or [])
    company.name = name
    company.domains = cleaned_domains
    company.notes = notes.strip()
    company.custom_fields = values
    try:
        with transaction.atomic():
            company.save()
            _sync_domain_rows(company)
    except IntegrityError as error:
        if "tickets_companydomain_uniq" in str(error):  # claimed meanwhile
            raise ContactInvalid("One of these domains belongs to another company.") from None
        raise ContactInvalid(f"There is already a company named {name!r}.", field="name") from None
    if added:
        # People already known at a new domain join too (a task: there may be thousands,
        # and their tickets' search documents name the company).
        tenant_id, company_id = str(company.tenant_id), str(company.id)
        transaction.on_commit(
            lambda: contact_tasks.attach_domain_contacts.delay(
                tenant_id=tenant_id, company_id=company_id
            )
        )
    return company


ATTACH_BATCH = 500


def attach_contacts_by_domain(*, company_id: UUID, language: str = "en") -> int:
    """Contacts without a company whose address is at one of the company's domains join
    it, as new contacts from those domains do; their tickets' search documents follow.
    Contacts of another company stay where they are. Returns how many joined."""
    company = Company.objects.filter(id=company_id).first()
    if company is None:
        return 0
    joined = 0
    for domain in CompanyDomain.objects.filter(company=company).values_list("domain", flat=True):
        loose = Contact.objects.filter(
            company__isnull=True, merged_into__isnull=True, email_key__endswith=f"@{domain}"
        )
        while ids := list(loose.values_list("id", flat=True)[:ATTACH_BATCH]):
            with transaction.atomic():
                joined += Contact.objects.filter(id__in=ids, company__isnull=True).update(
                    company=company, updated_at=timezone.now()
                )
                _refresh_tickets(
                    Ticket.objects.filter(contact_id__in=ids).select_related("contact__company"),
                    language,
                )
    return joined


def _sync_domain_rows(company: Company) -> None:
    """Make the company's CompanyDomain rows match its domains."""
    rows = CompanyDomain.objects.filter(company=company)
    rows.exclude(domain__in=company.domains).delete()
    present = set(rows.values_list("domain", flat=True))
    CompanyDomain.objects.bulk_create(
        CompanyDomain(tenant_id=company.tenant_id, company=company, domain=domain)
        for domain in company.domains
        if domain not in present
    )


@transaction.atomic
def create_company(
    *,
    name: str,
    domains: Iterable[str] = (),
    notes: str = "",
    custom_fields: Mapping[str, Any] | None = None,
    actor: Membership | None,
) -> Company:
    """A new company. Raises ContactInvalid (no name, a name or domain taken, a bad domain),
    CustomFieldInvalid, PermissionDenied (light agents)."""
    _check_can_change(actor)
    return _save_company(
        Company(), name=name, domains=domains, notes=notes, custom_fields=custom_fields or {}
    )


@transaction.atomic
def update_company(
    company: Company,
    *,
    name: str,
    domains: Iterable[str],
    notes: str,
    custom_fields: Mapping[str, Any],
    actor: Membership | None,
) -> Company:
    """Change a company. Same rules and errors as create_company."""
    _check_can_change(actor)
    return _save_company(
        company, name=name, domains=domains, notes=notes, custom_fields=custom_fields
    )


def fields_to_fill(*, survivor: Contact, duplicate: Contact) -> dict[str, Any]:
    """What a merge copies from the duplicate: each of its values the survivor lacks
    (custom fields under `custom_fields`). Reads only the two rows."""
    filled: dict[str, Any] = {
        name: getattr(duplicate, name)
        for name in FILLED_FIELDS
        if not getattr(survivor, name) and getattr(duplicate, name)
    }
    custom = {
        key: value
        for key, value in duplicate.custom_fields.items()
        if survivor.custom_fields.get(key) in (None, "") and value not in (None, "")
    }
    if custom:
        filled["custom_fields"] = custom
    return filled


def check_merge(*, survivor: Contact, duplicate: Contact) -> None:
    """Raise ContactInvalid unless `duplicate` may be merged into `survivor`."""
    if survivor.id == duplicate.id:
        raise ContactInvalid("A contact cannot be merged into itself.")
    if survivor.merged_into_id:
        raise ContactInvalid(
            f"{survivor.email} was itself merged into another contact; merge into that one."
        )
    if duplicate.merged_into_id:
        raise ContactInvalid(f"{duplicate.email} is already merged into another contact.")


@transaction.atomic
def merge_contacts(
    *, survivor: Contact, duplicate: Contact, actor: Membership | None, language: str = "en"
) -> Contact:
    """Fold a duplicate contact into the survivor.

    The duplicate's tickets, follows, messages and satisfaction ratings move to the
    survivor (a follow is dropped where the survivor already follows the ticket or asked
    it); the survivor's empty details are filled from the duplicate; the duplicate row
    stays, pointing at the survivor, and earlier merges into the duplicate now point at the
    survivor too. Each moved ticket records a `contact` event. Raises ContactInvalid
    (itself, a merged survivor, an already merged duplicate), PermissionDenied (light
    agents).
    """
    _check_can_change(actor)
    # Lock both rows, in id order so two opposite merges cannot deadlock, and decide on
    # fresh values: a concurrent merge may have just changed them.
    locked = {
        row.id: row
        for row in Contact.objects.select_for_update()
        .filter(id__in=[survivor.id, duplicate.id])
        .order_by("id")
    }
    survivor = locked.get(survivor.id, survivor)
    duplicate = locked.get(duplicate.id, duplicate)
    check_merge(survivor=survivor, duplicate=duplicate)

    moved = list(Ticket.objects.select_for_update().filter(contact=duplicate).order_by("id"))
    moved_ids = [ticket.id for ticket in moved]
    Ticket.objects.filter(id__in=moved_ids).update(contact=survivor, updated_at=timezone.now())
    # The requester is not also a follower of their own ticket.
    TicketFollower.objects.filter(contact=survivor, ticket_id__in=moved_ids).delete()
    TicketFollower.objects.filter(contact=duplicate).filter(
        Q(ticket__contact=survivor)
        | Q(ticket_id__in=TicketFollower.objects.filter(contact=survivor).values("ticket_id"))
    ).delete()
    TicketFollower.objects.filter(contact=duplicate).update(
        contact=survivor, updated_at=timezone.now()
    )
    Message.objects.filter(author_contact=duplicate).update(author_contact=survivor)
    SatisfactionRating.objects.filter(contact=duplicate).update(
        contact=survivor, updated_at=timezone.now()
    )

    filled = fields_to_fill(survivor=survivor, duplicate=duplicate)
    for name in FILLED_FIELDS:
        if name in filled:
            setattr(survivor, name, filled[name])
    survivor.custom_fields = {**survivor.custom_fields, **filled.get("custom_fields", {})}
    survivor.save()
    # Keep merged_into one hop long: whatever was merged into the duplicate follows it.
    Contact.objects.filter(merged_into=duplicate).update(
        merged_into=survivor, updated_at=timezone.now()
    )
    duplicate.merged_into = survivor
    duplicate.save(update_fields=["merged_into", "updated_at"])

    for ticket in moved:
        ticket.contact = survivor
        services.record_event(
            ticket=ticket, actor=actor, field="contact", old=duplicate.email, new=survivor.email
        )
    _refresh_tickets(moved, language)
    return survivor
