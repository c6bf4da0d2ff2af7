from __future__ import annotations

import re
from typing import Any

from django import forms
from django.db.models import QuerySet

from automation.models import CannedResponseScope
from departments.models import BusinessHours, Department
from tickets.models import TicketChannel, TicketPriority, TicketType


class CannedResponseForm(forms.Form):
    title = forms.CharField(max_length=120)
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), max_length=50_000)
    scope = forms.ChoiceField(choices=CannedResponseScope.choices)
    # A bare QuerySet: the scoped manager would need a tenant at import time.
    department: forms.ModelChoiceField[Department] = forms.ModelChoiceField(
        queryset=QuerySet(model=Department).none(), required=False
    )

    def __init__(self, *args: Any, departments: Any, may_share: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = departments  # type: ignore[attr-defined]
        if not may_share:
            self.fields["scope"].choices = [  # type: ignore[attr-defined]
                (CannedResponseScope.PERSONAL, "Only me")
            ]


DURATION = re.compile(r"^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m?)?\s*$", re.IGNORECASE)


def format_minutes(minutes: int | None) -> str:
    """480 -> '8h', 90 -> '1h 30m', 2880 -> '2d' (how the form shows a target)."""
    if not minutes:
        return ""
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else "", f"{mins}m" if mins else ""]
    return " ".join(part for part in parts if part)


class DurationMinutesField(forms.CharField):
    """A target typed as '45m', '8h', '1h 30m', '2d' or plain minutes; cleaned to minutes."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 20)
        kwargs.setdefault(
            "help_text",
            "e.g. 30m, 4h, 1d 4h; empty: not measured. Counted in the policy's business hours,"
            " where 1d is 24 business hours (three 8-hour days), not one working day.",
        )
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        return format_minutes(value) if isinstance(value, int) else value

    def clean(self, value: Any) -> int | None:
        text = super().clean(value)
        if not text:
            return None
        match = DURATION.match(text)
        if match is None or not any(match.groups()):
            raise forms.ValidationError("Write a duration like 30m, 4h or 1d 4h.")
        days, hours, mins = (int(group or 0) for group in match.groups())
        return days * 24 * 60 + hours * 60 + mins


class SlaPolicyForm(forms.Form):
    name = forms.CharField(max_length=120)
    description = forms.CharField(
        max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    position = forms.IntegerField(
        min_value=0, max_value=32767, initial=0, help_text="Policies are tried lowest first."
    )
    is_active = forms.BooleanField(required=False, initial=True, label="Active")
    priorities = forms.MultipleChoiceField(
        choices=TicketPriority.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: any priority.",
    )
    channels = forms.MultipleChoiceField(
        choices=TicketChannel.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: any channel.",
    )
    department: forms.ModelChoiceField[Department] = forms.ModelChoiceField(
        queryset=QuerySet(model=Department).none(), required=False, empty_label="Any department"
    )
    ticket_type: forms.ModelChoiceField[TicketType] = forms.ModelChoiceField(
        queryset=QuerySet(model=TicketType).none(), required=False, empty_label="Any type"
    )
    business_hours: forms.ModelChoiceField[BusinessHours] = forms.ModelChoiceField(
        queryset=QuerySet(model=BusinessHours).none(),
        required=False,
        empty_label="Around the clock",
    )
    first_response_minutes = DurationMinutesField(label="First response within")
    next_response_minutes = DurationMinutesField(label="Next response within")
    resolution_minutes = DurationMinutesField(label="Resolution within")

    def __init__(
        self,
        *args: Any,
        departments: Any,
        ticket_types: Any,
        business_hours: Any,
        priority_labels: dict[str, str],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["priorities"].choices = [  # type: ignore[attr-defined]
            (value, priority_labels.get(value, name)) for value, name in TicketPriority.choices
        ]
        self.fields["department"].queryset = departments  # type: ignore[attr-defined]
        self.fields["ticket_type"].queryset = ticket_types  # type: ignore[attr-defined]
        self.fields["business_hours"].queryset = business_hours  # type: ignore[attr-defined]
