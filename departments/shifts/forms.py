"""A member's shift as people write it (per weekday '09:00-17:00', empty: off), and leave."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms

from departments.business_time import DAY_NAMES
from departments.forms import _timezones
from departments.models import AgentShift
from departments.shifts.services import REASON_LENGTH
from helpdesk.tenancy.models import Availability


class ShiftForm(forms.Form):
    timezone = forms.ChoiceField(choices=_timezones, initial="UTC", label="Time zone")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for day, label in enumerate(DAY_NAMES):
            self.fields[f"day_{day}"] = forms.CharField(
                label=label,
                required=False,
                max_length=200,
                widget=forms.TextInput(attrs={"placeholder": "off"}),
            )

    @property
    def day_fields(self) -> list[Any]:
        return [self[f"day_{day}"] for day in range(7)]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        intervals = []
        for day in range(7):
            for part in (data.get(f"day_{day}") or "").split(","):
                if not part.strip():
                    continue
                start, dash, end = part.strip().partition("-")
                if not dash:
                    self.add_error(f"day_{day}", "Write periods like 09:00-17:00.")
                    break
                intervals.append({"day": day, "start": start.strip(), "end": end.strip()})
        data["intervals"] = intervals
        return data

    @staticmethod
    def initial_for(shift: AgentShift | None, default_timezone: str) -> dict[str, Any]:
        if shift is None:
            return {
                "timezone": default_timezone,
                **{f"day_{day}": "09:00-17:00" for day in range(5)},
            }
        initial: dict[str, Any] = {"timezone": shift.timezone}
        for day in range(7):
            initial[f"day_{day}"] = ", ".join(
                f"{i['start']}-{i['end']}" for i in shift.intervals if i["day"] == day
            )
        return initial


class LeaveForm(forms.Form):
    starts_on = forms.DateField(label="First day", widget=forms.DateInput(attrs={"type": "date"}))
    ends_on = forms.DateField(label="Last day", widget=forms.DateInput(attrs={"type": "date"}))
    reason = forms.CharField(max_length=REASON_LENGTH, required=False, label="Reason")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        starts, ends = data.get("starts_on"), data.get("ends_on")
        if isinstance(starts, datetime.date) and isinstance(ends, datetime.date) and ends < starts:
            self.add_error("ends_on", "The last day cannot be before the first.")
        return data


class AvailabilityForm(forms.Form):
    availability = forms.ChoiceField(choices=Availability.choices)
