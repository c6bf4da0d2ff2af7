"""Admin page of a member's availability, shift and leave (/settings/members/<id>/shift/)."""

from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from departments.business_time import DAY_NAMES
from departments.shifts import selectors, services
from departments.shifts.errors import LeaveNotFound, ShiftNotFound
from departments.shifts.forms import AvailabilityForm, LeaveForm, ShiftForm
from helpdesk.accounts import selectors as account_selectors
from helpdesk.accounts import services as account_services
from helpdesk.core.errors import DomainError
from helpdesk.core.views import not_found_page
from helpdesk.tenancy.decorators import member_required
from helpdesk.tenancy.errors import MemberNotFound
from helpdesk.tenancy.http import MemberHttpRequest
from helpdesk.tenancy.permissions import Capability


@member_required(may=Capability.MANAGE_AVAILABILITY)
def member_shift(request: MemberHttpRequest, member_id: UUID) -> HttpResponse:
    """A member's availability (set it for them), weekly shift (set or remove) and leave
    (add, withdraw). Each form posts an `action`; a refused one comes back with its
    errors (400), the others as they were."""
    try:
        seat = account_selectors.get_seat(member_id)
    except MemberNotFound:
        return not_found_page(request, "That member")
    try:
        shift = selectors.get_shift(seat.id)
    except ShiftNotFound:
        shift = None
    action = request.POST.get("action", "") if request.method == "POST" else ""
    shift_form = ShiftForm(
        request.POST if action == "shift" else None,
        initial=ShiftForm.initial_for(shift, request.tenant.time_zone),
    )
    leave_form = LeaveForm(request.POST if action == "leave" else None)
    availability_form = AvailabilityForm(request.POST if action == "availability" else None)
    name = seat.user.display_name
    try:
        if action == "shift" and shift_form.is_valid():
            services.set_shift(
                membership=seat,
                timezone=shift_form.cleaned_data["timezone"],
                intervals=shift_form.cleaned_data["intervals"],
                actor=request.membership,
            )
            messages.success(request, f"Shift of {name} saved.")
            return redirect("departments:member-shift", member_id=seat.id)
        if action == "clear":
            services.clear_shift(membership=seat, actor=request.membership)
            messages.success(request, f"{name} has no shift now: on shift at all times.")
            return redirect("departments:member-shift", member_id=seat.id)
        if action == "leave" and leave_form.is_valid():
            services.add_leave(membership=seat, actor=request.membership, **leave_form.cleaned_data)
            messages.success(request, f"Leave of {name} added.")
            return redirect("departments:member-shift", member_id=seat.id)
        if action == "remove-leave":
            try:
                leave = selectors.get_leave(seat.id, request.POST.get("leave", ""))
            except LeaveNotFound:
                return not_found_page(request, "That leave")
            services.remove_leave(leave=leave, actor=request.membership)
            messages.success(request, f"Leave of {name} withdrawn.")
            return redirect("departments:member-shift", member_id=seat.id)
        if action == "availability" and availability_form.is_valid():
            account_services.set_availability(
                membership=seat,
                availability=availability_form.cleaned_data["availability"],
                actor=request.membership,
            )
            messages.success(
                request, f"{name} is {availability_form.cleaned_data['availability']}."
            )
            return redirect("departments:member-shift", member_id=seat.id)
    except DomainError as error:
        form = {"shift": shift_form, "leave": leave_form}.get(action, availability_form)
        form.add_error(None, str(error))
    now = timezone.now()
    hours = selectors.member_hours([seat.id], now).get(seat.id)
    refused = any(f.errors for f in (shift_form, leave_form, availability_form))
    return render(
        request,
        "departments/member_shift.html",
        {
            "seat": seat,
            "shift": shift,
            "shift_form": shift_form,
            "leave_form": leave_form,
            "availability_form": availability_form,
            "leaves": list(selectors.list_leave(seat.id)),
            "on_shift": hours is None or hours.on_shift(now),
            "shift_ends_at": hours.shift_ends_at(now) if hours else None,
            "next_shift_at": hours.next_shift_at(now) if hours else None,
            "hours_timezone": hours.timezone if hours else request.tenant.time_zone,
            "day_names": DAY_NAMES,
            "today": now.date(),
        },
        status=400 if refused or action not in {"", "shift", "leave", "availability"} else 200,
    )
