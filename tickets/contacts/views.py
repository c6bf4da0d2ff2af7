"""Agent pages: contacts and companies (details, custom fields, tickets, edit, merge).

Every member may look; changing needs a full agent or an admin (`permissions.can_change_contacts`),
which tickets.contacts checks again.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from helpdesk.core.errors import DomainError
from helpdesk.core.views import not_found_page
from helpdesk.tenancy import permissions
from helpdesk.tenancy.decorators import member_required
from helpdesk.tenancy.http import MemberHttpRequest
from helpdesk.tenancy.permissions import Capability
from tickets.configuration import services as configuration
from tickets.contacts import personal_data
from tickets.contacts import selectors as contact_selectors
from tickets.contacts import services as contacts
from tickets.contacts.forms import CompanyForm, ContactForm, MergeForm
from tickets.errors import CompanyNotFound, ContactInvalid, ContactNotFound, CustomFieldInvalid
from tickets.models import Company, Contact
from tickets.satisfaction import selectors as satisfaction_selectors

PAGE_SIZE = 50
MERGE_CANDIDATES = 20
COMPANY_CONTACTS_SHOWN = 100
READ_ONLY = "Light agents may view contacts and companies but not change them."


def _can_change(request: MemberHttpRequest) -> bool:
    return permissions.can_change_contacts(request.membership)


def _query(request: HttpRequest) -> str:
    # PostgreSQL refuses NUL in text: drop it rather than fail the search.
    return request.GET.get("q", "").replace("\x00", "").strip()[:200]


def _page(request: HttpRequest, items: Any, param: str = "page") -> Any:
    return Paginator(items, PAGE_SIZE).get_page(request.GET.get(param))


def _ratings(
    request: HttpRequest, *, contact_id: UUID | None = None, company_id: UUID | None = None
) -> dict[str, Any]:
    """Every past satisfaction rating (paged by `ratings_page`) and the good/okay/bad totals;
    the percentage is good of all answers (okay counts as neither good nor bad)."""
    history = satisfaction_selectors.list_rating_history(
        contact_id=contact_id, company_id=company_id
    )
    counts = satisfaction_selectors.count_rating_history(
        contact_id=contact_id, company_id=company_id
    )
    answered = counts["good"] + counts["okay"] + counts["bad"]
    return {
        "ratings_page": _page(request, history, "ratings_page"),
        "rating_counts": counts,
        "rating_percent": round(100 * counts["good"] / answered) if answered else None,
    }


def _render_list(
    request: MemberHttpRequest, template: str, fragment: str, context: dict[str, Any]
) -> HttpResponse:
    """The whole page, or for htmx (the search box) only the list."""
    if request.htmx:
        template = f"{template}#{fragment}"
    response = render(request, template, context)
    response["Vary"] = "HX-Request"
    return response


def _add_error(form: Any, error: DomainError) -> None:
    """Show a rule's message beside the field it names (tickets.contacts passes `field`)."""
    field = error.details.get("field")
    form.add_error(field if field in form.fields else None, str(error))


def _custom_labels(target: str) -> dict[str, str]:
    return {field.key: field.label for field in configuration.list_custom_fields(target)}


# --- Contacts --------------------------------------------------------------------------


@member_required
def contact_list(request: MemberHttpRequest) -> HttpResponse:
    query = _query(request)
    context = {
        "page": _page(request, contact_selectors.list_contacts(query or None)),
        "query": query,
    }
    return _render_list(request, "tickets/contacts/contact_list.html", "contact_list", context)


@member_required
def contact_detail(request: MemberHttpRequest, contact_id: UUID) -> HttpResponse:
    """A contact's details, custom fields, company, tickets and satisfaction history."""
    try:
        contact = contact_selectors.get_contact(contact_id)
    except ContactNotFound:
        return not_found_page(request, "That contact")
    if contact.merged_into_id:
        messages.info(request, f"{contact.email} was merged into this contact.")
        return redirect("tickets:contact-detail", contact_id=contact.merged_into_id)
    return render(
        request,
        "tickets/contacts/contact_detail.html",
        {
            "contact": contact,
            "custom_values": configuration.display_values("contact", contact.custom_fields),
            "page": _page(
                request, contact_selectors.list_tickets_of_contact(contact, open_first=True)
            ),
            "merged_duplicates": list(contact_selectors.list_merged_duplicates(contact)),
            **_ratings(request, contact_id=contact.id),
            "company_ratings": satisfaction_selectors.count_rating_history(
                company_id=contact.company_id
            )
            if contact.company_id
            else None,
            "can_change": _can_change(request),
        },
    )


def _contact_for_change(
    request: MemberHttpRequest, contact_id: UUID, url_name: str
) -> Contact | HttpResponse:
    """The contact, or the response that replaces the page (404, survivor, 403)."""
    try:
        contact = contact_selectors.get_contact(contact_id)
    except ContactNotFound:
        return not_found_page(request, "That contact")
    if contact.merged_into_id:
        return redirect(url_name, contact_id=contact.merged_into_id)
    if not _can_change(request):
        return HttpResponse(READ_ONLY, status=403)
    return contact


@member_required
@require_http_methods(["GET", "POST"])
def contact_edit(request: MemberHttpRequest, contact_id: UUID) -> HttpResponse:
    contact = _contact_for_change(request, contact_id, "tickets:contact-edit")
    if not isinstance(contact, Contact):
        return contact
    form = ContactForm(
        request.POST or None,
        initial={
            "name": contact.name,
            "email": contact.email,
            "phone": contact.phone,
            "notes": contact.notes,
            "company": str(contact.company_id or ""),
        },
        companies=list(contact_selectors.list_companies()),
        custom_fields=configuration.list_custom_fields("contact"),
        values=contact.custom_fields,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            contacts.update_contact(
                contact,
                name=data["name"],
                email=data["email"],
                phone=data["phone"],
                notes=data["notes"],
                company=contact_selectors.get_company(data["company"]) if data["company"] else None,
                custom_fields=form.custom_values(),
                actor=request.membership,
                language=request.tenant.language,
            )
            messages.success(request, "Contact saved.")
            return redirect("tickets:contact-detail", contact_id=contact.id)
        except CustomFieldInvalid as error:
            form.add_custom_error(error.details.get("field"), str(error))
        except CompanyNotFound as error:
            form.add_error("company", str(error))
        except DomainError as error:
            _add_error(form, error)
    return render(
        request,
        "tickets/contacts/contact_form.html",
        {"contact": contact, "form": form},
        status=400 if form.errors else 200,
    )


def _merge_preview(survivor: Contact, duplicate: Contact) -> dict[str, Any]:
    """What merging would move and fill, or why it cannot happen."""
    try:
        contacts.check_merge(survivor=survivor, duplicate=duplicate)
    except DomainError as error:
        return {"duplicate": duplicate, "error": str(error)}
    filled = contacts.fields_to_fill(survivor=survivor, duplicate=duplicate)
    labels = _custom_labels("contact")
    rows = [(name.capitalize(), filled[name]) for name in contacts.FILLED_FIELDS if name in filled]
    rows += [
        (labels.get(key, key), value) for key, value in filled.get("custom_fields", {}).items()
    ]
    return {
        "duplicate": duplicate,
        "counts": contact_selectors.count_contact_references(duplicate),
        "filled": rows,
    }


@member_required
@require_http_methods(["GET", "POST"])
def contact_merge(request: MemberHttpRequest, contact_id: UUID) -> HttpResponse:
    """Merge a duplicate into this contact: search by email, confirm what moves, merge."""
    survivor = _contact_for_change(request, contact_id, "tickets:contact-merge")
    if not isinstance(survivor, Contact):
        return survivor
    if request.method == "POST":
        form = MergeForm(request.POST)
        try:
            if not form.is_valid():
                raise ContactInvalid("Pick the duplicate contact to merge.")
            duplicate = contact_selectors.get_contact(form.cleaned_data["duplicate"])
            contacts.merge_contacts(
                survivor=survivor,
                duplicate=duplicate,
                actor=request.membership,
                language=request.tenant.language,
            )
        except DomainError as error:
            messages.error(request, str(error))
            return redirect("tickets:contact-merge", contact_id=survivor.id)
        messages.success(request, f"{duplicate.email} merged into this contact.")
        return redirect("tickets:contact-detail", contact_id=survivor.id)
    query = _query(request)
    candidates = (
        list(contact_selectors.list_contacts(query).exclude(id=survivor.id)[:MERGE_CANDIDATES])
        if query
        else []
    )
    context: dict[str, Any] = {"contact": survivor, "query": query, "candidates": candidates}
    if request.htmx:
        response = render(request, "tickets/contacts/contact_merge.html#candidates", context)
        response["Vary"] = "HX-Request"
        return response
    if request.GET.get("duplicate"):
        try:
            duplicate = contact_selectors.get_contact(UUID(request.GET["duplicate"]))
        except (ValueError, ContactNotFound):
            return not_found_page(request, "That contact")
        context["preview"] = _merge_preview(survivor, duplicate)
    response = render(request, "tickets/contacts/contact_merge.html", context)
    response["Vary"] = "HX-Request"
    return response


# --- Companies -------------------------------------------------------------------------


@member_required
def company_list(request: MemberHttpRequest) -> HttpResponse:
    query = _query(request)
    context = {
        "page": _page(request, contact_selectors.list_companies(query or None)),
        "query": query,
        "can_change": _can_change(request),
    }
    return _render_list(request, "tickets/contacts/company_list.html", "company_list", context)


@member_required
def company_detail(request: MemberHttpRequest, company_id: UUID) -> HttpResponse:
    try:
        company = contact_selectors.get_company(company_id)
    except CompanyNotFound:
        return not_found_page(request, "That company")
    people = contact_selectors.list_company_contacts(company)
    return render(
        request,
        "tickets/contacts/company_detail.html",
        {
            "company": company,
            "custom_values": configuration.display_values("company", company.custom_fields),
            "people": list(people[:COMPANY_CONTACTS_SHOWN]),
            "people_count": people.count(),
            "page": _page(
                request, contact_selectors.list_tickets_of_company(company, open_first=True)
            ),
            **_ratings(request, company_id=company.id),
            "can_change": _can_change(request),
        },
    )


def _company_form(request: MemberHttpRequest, company: Company | None) -> HttpResponse:
    """Create (no company) or edit a company."""
    if not _can_change(request):
        return HttpResponse(READ_ONLY, status=403)
    initial = {}
    if company is not None:
        initial = {
            "name": company.name,
            "domains": "\n".join(company.domains),
            "notes": company.notes,
        }
    form = CompanyForm(
        request.POST or None,
        initial=initial,
        custom_fields=configuration.list_custom_fields("company"),
        values=company.custom_fields if company else {},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        values = {
            "name": data["name"],
            "domains": data["domains"],
            "notes": data["notes"],
            "custom_fields": form.custom_values(),
            "actor": request.membership,
        }
        try:
            if company is None:
                company = contacts.create_company(**values)
            else:
                company = contacts.update_company(company, **values)
            messages.success(request, f"Company {company.name} saved.")
            return redirect("tickets:company-detail", company_id=company.id)
        except CustomFieldInvalid as error:
            form.add_custom_error(error.details.get("field"), str(error))
        except DomainError as error:
            _add_error(form, error)
    return render(
        request,
        "tickets/contacts/company_form.html",
        {"company": company, "form": form},
        status=400 if form.errors else 200,
    )


@member_required
@require_http_methods(["GET", "POST"])
def company_create(request: MemberHttpRequest) -> HttpResponse:
    return _company_form(request, None)


@member_required
@require_http_methods(["GET", "POST"])
def company_edit(request: MemberHttpRequest, company_id: UUID) -> HttpResponse:
    try:
        company = contact_selectors.get_company(company_id)
    except CompanyNotFound:
        return not_found_page(request, "That company")
    return _company_form(request, company)


@member_required(may=Capability.HANDLE_PERSONAL_DATA)
def contact_export(request: MemberHttpRequest, contact_id: UUID) -> HttpResponseBase:
    """Admin: everything about the contact as a download, JSON (`?as=json`) or a zip with
    the attachments (the default); recorded in the audit log."""
    try:
        contact = contact_selectors.get_contact(contact_id)
    except ContactNotFound:
        return not_found_page(request, "That contact")
    if request.GET.get("as") == "json":
        data = personal_data.export_contact(contact=contact, actor=request.membership)
        response = HttpResponse(
            json.dumps(data, indent=2, ensure_ascii=False), content_type="application/json"
        )
        name = f"contact-{contact.id}.json"
    else:
        # A temporary file, complete before the tenant transaction ends; only the file is
        # streamed afterwards (FileResponse closes it).
        archive = personal_data.export_contact_zip(contact=contact, actor=request.membership)
        return FileResponse(
            archive,
            as_attachment=True,
            filename=f"contact-{contact.id}.zip",
            content_type="application/zip",
        )
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@require_POST
@member_required(may=Capability.HANDLE_PERSONAL_DATA)
def contact_erase(request: MemberHttpRequest, contact_id: UUID) -> HttpResponse:
    """Admin: erase the person (their tickets stay, anonymous); recorded in the audit log."""
    try:
        contact = contact_selectors.get_contact(contact_id)
    except ContactNotFound:
        return not_found_page(request, "That contact")
    counts = personal_data.erase_contact(contact=contact, actor=request.membership)
    messages.success(
        request,
        f"The contact is erased; {counts['tickets']} ticket(s) stay as anonymous records.",
    )
    return redirect("tickets:contact-detail", contact_id=contact.id)
