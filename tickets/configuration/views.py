"""Admin pages: ticket settings (open it and you own it, satisfaction surveys, priorities,
types, statuses) and custom fields of tickets, contacts and companies.

Every change goes through tickets.configuration; a refused change re-renders the page with
the message beside the form that caused it and status 400.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from helpdesk.core.errors import DomainError
from helpdesk.core.views import not_found_page
from helpdesk.tenancy.decorators import member_required
from helpdesk.tenancy.http import MemberHttpRequest
from helpdesk.tenancy.permissions import Capability
from tickets.configuration import services as configuration
from tickets.configuration.forms import (
    CustomFieldForm,
    CustomStatusForm,
    SatisfactionSettingsForm,
    TicketTypeForm,
    first_error,
)
from tickets.errors import CustomFieldNotFound, CustomStatusNotFound, TicketTypeNotFound
from tickets.models import (
    CustomField,
    CustomFieldTarget,
    CustomStatus,
    TicketPriority,
    TicketStatus,
    TicketType,
    WorkspaceSettingsRetentionAction,
)

SETTINGS_TEMPLATE = "tickets/settings/ticket_settings.html"


def _back_to(section: str) -> HttpResponse:
    return redirect(f"{reverse('tickets:ticket-settings')}#{section}")


def _next_position(objects: Iterable[TicketType | CustomStatus | CustomField]) -> int:
    return max((item.position for item in objects), default=-1) + 1


def _rows(
    request: HttpRequest,
    errors: dict[str, str],
    prefix: str,
    objects: list[Any],
    fields: tuple[str, ...],
) -> list[dict[str, Any]]:
    """One editable row per object; the row that failed shows what was posted."""
    rows = []
    for item in objects:
        form_id = f"{prefix}-{item.id}"
        failed = form_id in errors
        values = {
            name: request.POST.get(name, "") if failed else getattr(item, name) for name in fields
        }
        rows.append({"item": item, "form_id": form_id, "error": errors.get(form_id), **values})
    return rows


def _new_values(request: HttpRequest, failed: bool, defaults: dict[str, Any]) -> dict[str, Any]:
    return {name: request.POST.get(name, "") if failed else v for name, v in defaults.items()}


def _settings_page(request: HttpRequest, errors: dict[str, str] | None = None) -> HttpResponse:
    """The whole settings page; with errors (form id → message) it answers 400."""
    errors = errors or {}
    settings = configuration.get_settings()
    levels = configuration.priority_labels(settings)
    priorities_failed = "priorities" in errors
    priority_rows = [
        {
            "value": value,
            "name": name,
            "in_use": (
                request.POST.get(f"use_{value}") == "on" if priorities_failed else value in levels
            ),
            "label": (
                request.POST.get(f"label_{value}", "")
                if priorities_failed
                else levels.get(value, name)
            ),
            "is_normal": value == TicketPriority.NORMAL,
        }
        for value, name in TicketPriority.choices
    ]
    types = list(configuration.list_ticket_types())
    statuses = list(configuration.list_custom_statuses())
    context = {
        "auto_assign_on_open": (
            request.POST.get("auto_assign_on_open") == "on"
            if "ownership" in errors
            else settings.auto_assign_on_open
        ),
        "satisfaction_enabled": (
            request.POST.get("satisfaction_enabled") == "on"
            if "satisfaction" in errors
            else settings.satisfaction_enabled
        ),
        "satisfaction_delay_hours": (
            request.POST.get("satisfaction_delay_hours", "")
            if "satisfaction" in errors
            else settings.satisfaction_delay_hours
        ),
        "max_survey_delay_hours": configuration.MAX_SURVEY_DELAY_HOURS,
        "auto_solve_waiting_days": (
            request.POST.get("auto_solve_waiting_days", "")
            if "auto_solve" in errors
            else settings.auto_solve_waiting_days
        ),
        "max_auto_solve_days": configuration.MAX_AUTO_SOLVE_DAYS,
        "retention_months": (
            request.POST.get("retention_months", "")
            if "retention" in errors
            else settings.retention_months
        ),
        "retention_action": (
            request.POST.get("retention_action", "")
            if "retention" in errors
            else settings.retention_action
        ),
        "retention_actions": WorkspaceSettingsRetentionAction.choices,
        "max_retention_months": configuration.MAX_RETENTION_MONTHS,
        "priority_rows": priority_rows,
        "type_rows": _rows(request, errors, "type", types, ("name", "position")),
        "new_type": _new_values(
            request, "type_new" in errors, {"name": "", "position": _next_position(types)}
        ),
        "status_rows": _rows(
            request, errors, "status", statuses, ("name", "base_status", "position")
        ),
        "new_status": _new_values(
            request,
            "status_new" in errors,
            {"name": "", "base_status": TicketStatus.OPEN, "position": _next_position(statuses)},
        ),
        "base_statuses": TicketStatus.choices,
        "errors": errors,
    }
    return render(request, SETTINGS_TEMPLATE, context, status=400 if errors else 200)


@member_required(may=Capability.MANAGE_SETTINGS)
def ticket_settings(request: MemberHttpRequest) -> HttpResponse:
    """Open it and you own it, satisfaction surveys, priority levels, ticket types and
    custom statuses."""
    return _settings_page(request)


@member_required(may=Capability.MANAGE_SETTINGS)
@require_POST
def ticket_settings_ownership(request: MemberHttpRequest) -> HttpResponse:
    enabled = request.POST.get("auto_assign_on_open") == "on"
    try:
        configuration.update_settings(
            actor=request.membership,
            auto_assign_on_open=enabled,
        )
    except DomainError as error:
        return _settings_page(request, {"ownership": str(error)})
    messages.success(request, f"Open it and you own it is {'on' if enabled else 'off'}.")
    return _back_to("ownership")


@member_required(may=Capability.MANAGE_SETTINGS)
@require_POST
def ticket_settings_retention(request: MemberHttpRequest) -> HttpResponse:
    """How many months solved tickets are kept (0: for ever), then anonymized or deleted."""
    try:
        months = int(request.POST.get("retention_months", ""))
        configuration.update_settings(
            actor=request.membership,
            retention_months=months,
            retention_action=request.POST.get("retention_action", ""),
        )
    except ValueError:
        return _settings_page(request, {"retention": "Enter a number of months (0: for ever)."})
    except DomainError as error:
        return _settings_page(request, {"retention": str(error)})
    messages.success(
        request,
        f"Solved tickets are kept {months} months." if months else "Solved tickets are kept.",
    )
    return _back_to("retention")


@member_required(may=Capability.MANAGE_SETTINGS)
@require_POST
def ticket_settings_auto_solve(request: MemberHttpRequest) -> HttpResponse:
    """After how many days a ticket waiting on the customer is solved (0: never)."""
    try:
        days = int(request.POST.get("auto_solve_waiting_days", ""))
        configuration.update_settings(actor=request.membership, auto_solve_waiting_days=days)
    except ValueError:
        return _settings_page(request, {"auto_solve": "Enter a number of days (0: never)."})
    except DomainError as error:
        return _settings_page(request, {"auto_solve": str(error)})
    messages.success(
        request,
        f"Waiting tickets are solved after {days} days."
        if days
        else "Waiting tickets stay waiting.",
    )
    return _back_to("auto-solve")


@member_required(may=Capability.MANAGE_SETTINGS)
@require_POST
def ticket_settings_satisfaction(request: MemberHttpRequest) -> HttpResponse:
    """Whether solved tickets get a survey, and how many hours after solving."""
    form = SatisfactionSettingsForm(request.POST)
    if not form.is_valid():
        return _settings_page(request, {"satisfaction": first_error(form)})
    enabled = form.cleaned_data["satisfaction_enabled"]
    try:
        configuration.update_settings(
            actor=request.membership,
            satisfaction_enabled=enabled,
            satisfaction_delay_hours=form.cleaned_data["satisfaction_delay_hours"],
        )
    except DomainError as error:
        return _settings_page(request, {"satisfaction": str(error)})
    hours = form.cleaned_data["satisfaction_delay_hours"]
    messages.success(
        request,
        f"Saved: surveys go out {hours} hour{'' if hours == 1 else 's'} after a ticket is solved."
        if enabled
        else "Saved: solved tickets get no survey.",
    )
    return _back_to("satisfaction")


@member_required(may=Capability.MANAGE_SETTINGS)
@require_POST
def ticket_settings_priorities(request: MemberHttpRequest) -> HttpResponse:
    """The checked levels of the scale, each with its label."""
    levels: list[Mapping[str, str]] = [
        {"value": value, "label": request.POST.get(f"label_{value}", "")}
        for value in TicketPriority.values
        if request.POST.get(f"use_{value}") == "on"
    ]
    try:
        configuration.update_settings(
            actor=request.membership,
            priorities=levels,
        )
    except DomainError as error:
        return _settings_page(request, {"priorities": str(error)})
    messages.success(request, "Priorities saved.")
    return _back_to("priorities")


@member_required(may=Capability.MANAGE_SETTINGS)
@require_POST
def ticket_type_create(request: MemberHttpRequest) -> HttpResponse:
    form = TicketTypeForm(request.POST)
    if not form.is_valid():
        return _settings_page(request, {"type_new": first_error(form)})
    try:
        ticket_type = configuration.save_ticket_type(
            actor=request.membership,
            name=form.cleaned_data["name"],
            position=form.cleaned_data["position"],
        )
    except DomainError as error:
        return _settings_page(request, {"type_new": str(error)})
    messages.success(request, f"Ticket type {ticket_type.name} added.")
    return _back_to("types")


@member_required(may=Capability.MANAGE_SETTINGS)
@require_POST
def ticket_type_update(request: MemberHttpRequest, type_id: UUID) -> HttpResponse:
    """Rename or move a type (action=save), or deactivate or activate it."""
    try:
        ticket_type = configuration.get_ticket_type(type_id)
    except TicketTypeNotFound:
        return not_found_page(request, "That ticket type")
    form_id = f"type-{ticket_type.id}"
    action = request.POST.get("action", "save")
    try:
        if action in {"activate", "deactivate"}:
            configuration.save_ticket_type(
                actor=request.membership,
                ticket_type=ticket_type,
                name=ticket_type.name,
                position=ticket_type.position,
                is_active=action == "activate",
            )
        else:
            form = TicketTypeForm(request.POST)
            if not form.is_valid():
                return _settings_page(request, {form_id: first_error(form)})
            configuration.save_ticket_type(
                actor=request.membership,
                ticket_type=ticket_type,
                name=form.cleaned_data["name"],
                position=form.cleaned_data["position"],
                is_active=ticket_type.is_active,
            )
    except DomainError as error:
        return _settings_page(request, {form_id: str(error)})
    messages.success(request, f"Ticket type {ticket_type.name} saved.")
    return _back_to("types")


@member_required(may=Capability.MANAGE_SETTINGS)
@require_POST
def custom_status_create(request: MemberHttpRequest) -> HttpResponse:
    form = CustomStatusForm(request.POST)
    if not form.is_valid():
        return _settings_page(request, {"status_new": first_error(form)})
    try:
        status = configuration.save_custom_status(
            actor=request.membership,
            **form.cleaned_data,
        )
    except DomainError as error:
        return _settings_page(request, {"status_new": str(error)})
    messages.success(request, f"Status {status.name} added.")
    return _back_to("statuses")


@member_required(may=Capability.MANAGE_SETTINGS)
@require_POST
def custom_status_update(request: MemberHttpRequest, status_id: UUID) -> HttpResponse:
    """Rename, remap or move a status (action=save), or deactivate or activate it."""
    try:
        status = configuration.get_custom_status(status_id)
    except CustomStatusNotFound:
        return not_found_page(request, "That status")
    form_id = f"status-{status.id}"
    action = request.POST.get("action", "save")
    try:
        if action in {"activate", "deactivate"}:
            configuration.save_custom_status(
                actor=request.membership,
                custom_status=status,
                name=status.name,
                base_status=status.base_status,
                position=status.position,
                is_active=action == "activate",
            )
        else:
            form = CustomStatusForm(request.POST)
            if not form.is_valid():
                return _settings_page(request, {form_id: first_error(form)})
            configuration.save_custom_status(
                actor=request.membership,
                custom_status=status,
                is_active=status.is_active,
                **form.cleaned_data,
            )
    except DomainError as error:
        return _settings_page(request, {form_id: str(error)})
    messages.success(request, f"Status {status.name} saved.")
    return _back_to("statuses")


@member_required(may=Capability.MANAGE_SETTINGS)
def custom_fields(request: MemberHttpRequest) -> HttpResponse:
    """Every field of tickets, contacts and companies, active or not."""
    groups = [
        {
            "target": target,
            "label": label,
            "fields": configuration.list_custom_fields(target, active_only=False),
        }
        for target, label in CustomFieldTarget.choices
    ]
    return render(request, "tickets/settings/custom_fields.html", {"groups": groups})


def _field_page(
    request: HttpRequest,
    form: CustomFieldForm,
    *,
    field: CustomField | None,
    error: str | None,
) -> HttpResponse:
    failed = bool(error or form.errors)
    return render(
        request,
        "tickets/settings/custom_field_form.html",
        {"form": form, "field": field, "error": error},
        status=400 if failed else 200,
    )


@member_required(may=Capability.MANAGE_SETTINGS)
def custom_field_create(request: MemberHttpRequest) -> HttpResponse:
    """A new field; `?target=contact` (or company) preselects what it belongs to."""
    target = request.GET.get("target", "")
    if target not in CustomFieldTarget.values:
        target = CustomFieldTarget.TICKET
    initial = {
        "target": target,
        "position": _next_position(configuration.list_custom_fields(target, active_only=False)),
    }
    form = CustomFieldForm(request.POST if request.method == "POST" else None, initial=initial)
    error = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            field = configuration.save_custom_field(
                actor=request.membership,
                target=data["target"],
                label=data["label"],
                key=data["key"],
                type=data["type"],
                options=form.option_lines(),
                is_required=data["is_required"],
                is_active=data["is_active"],
                position=data["position"],
            )
        except DomainError as domain_error:
            error = str(domain_error)
        else:
            messages.success(request, f"Field {field.label} added.")
            return redirect(f"{reverse('tickets:custom-fields')}#{field.target}")
    return _field_page(request, form, field=None, error=error)


@member_required(may=Capability.MANAGE_SETTINGS)
def custom_field_edit(request: MemberHttpRequest, field_id: UUID) -> HttpResponse:
    """Change a field's label, options, required, active and position (not key or type)."""
    try:
        field = configuration.get_custom_field(field_id)
    except CustomFieldNotFound:
        return not_found_page(request, "That field")
    initial = {
        "label": field.label,
        "options": "\n".join(field.options),
        "is_required": field.is_required,
        "is_active": field.is_active,
        "position": field.position,
    }
    form = CustomFieldForm(
        request.POST if request.method == "POST" else None, initial=initial, editing=True
    )
    error = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            configuration.save_custom_field(
                actor=request.membership,
                field=field,
                target=field.target,
                type=field.type,
                label=data["label"],
                options=form.option_lines(),
                is_required=data["is_required"],
                is_active=data["is_active"],
                position=data["position"],
            )
        except DomainError as domain_error:
            error = str(domain_error)
            field.refresh_from_db()  # the refused values stay in the form, not the heading
        else:
            messages.success(request, f"Field {field.label} saved.")
            return redirect(f"{reverse('tickets:custom-fields')}#{field.target}")
    return _field_page(request, form, field=field, error=error)


@member_required
def preferences(request: MemberHttpRequest) -> HttpResponse:
    """The member's own preferences: the time zone times are shown in, and the signature
    under their public replies."""
    member = request.membership
    error = ""
    if request.method == "POST":
        chosen = request.POST.get("time_zone", "")
        try:
            configuration.set_member_time_zone(member=member, time_zone=chosen)
            if "signature" in request.POST:
                configuration.set_member_signature(
                    member=member, signature=request.POST["signature"][:10_000]
                )
        except DomainError as refused:
            error = str(refused)
        else:
            key = f"{configuration.TIME_ZONE_SESSION_KEY}:{member.id}"
            request.session[key] = chosen.strip()
            messages.success(request, "Preferences saved.")
            return redirect("tickets:preferences")
    return render(
        request,
        "tickets/settings/preferences.html",
        {
            "zones": configuration.time_zone_choices(),
            "chosen": configuration.member_time_zone(member),
            "tenant_zone": request.tenant.time_zone,
            "signature": request.POST.get("signature", "")
            if error
            else configuration.member_signature(member, or_name=False),
            "max_signature": configuration.MAX_SIGNATURE_CHARS,
            "error": error,
        },
        status=400 if error else 200,
    )
