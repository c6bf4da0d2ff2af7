"""Admin pages: departments, mailboxes, business hours and the team of the tenant."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from departments import selectors, services
from departments.business_time import DAY_NAMES
from departments.errors import BusinessHoursNotFound, DepartmentNotFound, MailboxNotFound
from departments.forms import (
    BusinessHoursForm,
    DepartmentEditForm,
    DepartmentForm,
    MailboxForm,
)
from departments.models import Mailbox
from departments.shifts import selectors as shift_selectors
from helpdesk.core.errors import DomainError
from helpdesk.core.views import not_found_page
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.decorators import member_required
from helpdesk.tenancy.http import MemberHttpRequest
from helpdesk.tenancy.permissions import Capability


@member_required(may=Capability.MANAGE_SETTINGS)
def admin_overview(request: MemberHttpRequest) -> HttpResponse:
    form = DepartmentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            department = services.create_department(
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                actor=request.membership,
            )
            messages.success(request, f"Department {department.name} created.")
            return redirect("departments:admin")
        except DomainError as error:
            form.add_error("name", str(error))
    return render(
        request,
        "departments/admin_overview.html",
        {
            "form": form,
            "departments": list(selectors.list_departments_with_counts()),
            "mailboxes": list(selectors.list_mailboxes()),
            "members": list(tenancy_selectors.list_members()),
        },
        status=400 if form.errors else 200,
    )


@member_required(may=Capability.MANAGE_SETTINGS)
def department_edit(request: MemberHttpRequest, department_id: UUID) -> HttpResponse:
    try:
        department = selectors.get_department(department_id)
    except DepartmentNotFound:
        return not_found_page(request, "That department")
    members = list(tenancy_selectors.list_members())
    form = DepartmentEditForm(
        request.POST or None,
        members=members,
        initial={
            "name": department.name,
            "description": department.description,
            "is_default": department.is_default,
            "members": [str(i) for i in department.members.values_list("membership_id", flat=True)],
            "assignment_mode": department.assignment_mode,
            "max_open_per_agent": department.max_open_per_agent,
            "assign_offline_agents": department.assign_offline_agents,
            "hand_back_when_offline": department.hand_back_when_offline,
        },
    )
    if request.method == "POST" and form.is_valid():
        chosen = set(form.cleaned_data["members"])
        try:
            services.update_department(
                department=department,
                actor=request.membership,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                is_default=form.cleaned_data["is_default"],
                members=[m for m in members if str(m.id) in chosen],
                assignment_mode=form.cleaned_data["assignment_mode"] or None,
                max_open_per_agent=form.cleaned_data["max_open_per_agent"],
                assign_offline_agents=form.cleaned_data["assign_offline_agents"],
                hand_back_when_offline=form.cleaned_data["hand_back_when_offline"],
            )
            messages.success(request, f"Department {department.name} saved.")
            return redirect("departments:department-edit", department_id=department.id)
        except DomainError as error:
            field = {
                "default_department_required": "is_default",
                "invalid_assignment_settings": error.details.get("field", "assignment_mode"),
            }.get(error.code, "name")
            form.add_error(field, str(error))
    return render(
        request,
        "departments/department_form.html",
        {
            "form": form,
            "department": department,
            "roster": shift_selectors.department_roster(department.id, timezone.now()),
        },
        status=400 if form.errors else 200,
    )


@member_required(may=Capability.MANAGE_SETTINGS)
@require_POST
def department_delete(request: MemberHttpRequest, department_id: UUID) -> HttpResponse:
    try:
        department = selectors.get_department(department_id)
        services.delete_department(department=department, actor=request.membership)
        messages.success(request, f"Department {department.name} deleted.")
    except DepartmentNotFound:
        return not_found_page(request, "That department")
    except DomainError as error:
        messages.error(request, str(error))
        return redirect("departments:department-edit", department_id=department_id)
    return redirect("departments:admin")


def _initial(mailbox: Mailbox) -> dict[str, Any]:
    fields = [name for name in MailboxForm.base_fields if name not in {"aliases", "imap_password"}]
    initial = {name: getattr(mailbox, name) for name in fields}
    initial["aliases"] = "\n".join(mailbox.aliases)
    return initial


def _save_mailbox(request: MemberHttpRequest, form: MailboxForm, mailbox: Mailbox | None) -> Any:
    data = dict(form.cleaned_data)
    try:
        if mailbox is None:
            return services.create_mailbox(
                actor=request.membership,
                **data,
            )
        return services.update_mailbox(
            mailbox=mailbox,
            actor=request.membership,
            **data,
        )
    except DomainError as error:
        field = error.details.get("field") or ("address" if "address" in error.code else None)
        field = "auto_ack_body" if "template" in error.code else field
        form.add_error(field, str(error))
        return None


@member_required(may=Capability.MANAGE_SETTINGS)
def mailbox_edit(request: MemberHttpRequest, mailbox_id: UUID | None = None) -> HttpResponse:
    """Create (no id) or edit a mailbox: addresses, acknowledgement, IMAP polling."""
    mailbox = None
    if mailbox_id is not None:
        try:
            mailbox = selectors.get_mailbox(mailbox_id)
        except MailboxNotFound:
            return not_found_page(request, "That mailbox")
    departments = selectors.list_departments()
    initial = (
        _initial(mailbox) if mailbox else {"department": selectors.get_default_department().id}
    )
    form = MailboxForm(
        request.POST or None,
        initial=initial,
        departments=departments,
        has_password=bool(mailbox and mailbox.imap_password_encrypted),
    )
    if request.method == "POST" and form.is_valid():
        saved = _save_mailbox(request, form, mailbox)
        if saved is not None:
            messages.success(request, f"Mailbox {saved.address} saved.")
            return redirect("departments:mailbox-edit", mailbox_id=saved.id)
    return render(
        request,
        "departments/mailbox_form.html",
        {"form": form, "mailbox": mailbox},
        status=400 if form.errors else 200,
    )


@member_required(may=Capability.MANAGE_SETTINGS)
@require_POST
def mailbox_delete(request: MemberHttpRequest, mailbox_id: UUID) -> HttpResponse:
    try:
        mailbox = selectors.get_mailbox(mailbox_id)
        services.delete_mailbox(mailbox=mailbox, actor=request.membership)
        messages.success(request, f"Mailbox {mailbox.address} deleted.")
    except MailboxNotFound:
        return not_found_page(request, "That mailbox")
    except DomainError as error:
        messages.error(request, str(error))
        return redirect("departments:mailbox-edit", mailbox_id=mailbox_id)
    return redirect("departments:admin")


@member_required(may=Capability.MANAGE_SETTINGS)
def business_hours(request: MemberHttpRequest, hours_id: UUID | None = None) -> HttpResponse:
    """Admin: the tenant's schedules; create one, or edit the one in the URL."""
    editing = None
    if hours_id is not None:
        try:
            editing = selectors.get_business_hours(hours_id)
        except BusinessHoursNotFound:
            return not_found_page(request, "Those hours")
    initial = (
        BusinessHoursForm.initial_for(editing)
        if editing
        else {"timezone": "UTC", **{f"day_{day}": "09:00-17:00" for day in range(5)}}
    )
    form = BusinessHoursForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.save_business_hours(
                business_hours=editing,
                name=form.cleaned_data["name"],
                timezone=form.cleaned_data["timezone"],
                intervals=form.cleaned_data["intervals"],
                holidays=[
                    services.NewHoliday(date=day, name=label)
                    for day, label in form.cleaned_data["holiday_list"]
                ],
                actor=request.membership,
            )
            messages.success(request, f"Business hours “{saved.name}” saved.")
            return redirect("departments:business-hours")
        except DomainError as error:
            form.add_error(None, str(error))
    return render(
        request,
        "departments/business_hours.html",
        {
            "form": form,
            "editing": editing,
            "schedules": list(selectors.list_business_hours()),
            "day_names": DAY_NAMES,
        },
        status=400 if form.errors else 200,
    )


@member_required(may=Capability.MANAGE_SETTINGS)
@require_POST
def business_hours_delete(request: MemberHttpRequest, hours_id: UUID) -> HttpResponse:
    try:
        hours = selectors.get_business_hours(hours_id)
        services.delete_business_hours(business_hours=hours, actor=request.membership)
        messages.success(request, f"Business hours “{hours.name}” deleted.")
    except BusinessHoursNotFound:
        return not_found_page(request, "Those hours")
    except DomainError as error:
        messages.error(request, str(error))
        return redirect("departments:business-hours-edit", hours_id=hours_id)
    return redirect("departments:business-hours")
