from __future__ import annotations

import datetime
import zoneinfo
from typing import Any

from django import forms
from django.db.models import QuerySet

from departments.business_time import DAY_NAMES
from departments.models import (
    MAX_OPEN_PER_AGENT_LIMIT,
    AssignmentMode,
    Department,
    ImapSecurity,
)


class DepartmentForm(forms.Form):
    name = forms.CharField(max_length=120)
    description = forms.CharField(
        max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class DepartmentEditForm(DepartmentForm):
    """A department's page: its name, description, default flag, who is seated in it and
    how its new tickets are assigned."""

    is_default = forms.BooleanField(
        required=False, label="Default department (mail to no particular mailbox lands here)"
    )
    members = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, label="Agents in this department"
    )
    assignment_mode = forms.ChoiceField(
        choices=AssignmentMode.choices,
        initial=AssignmentMode.MANUAL,
        required=False,
        label="New tickets",
    )
    max_open_per_agent = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_OPEN_PER_AGENT_LIMIT,
        label="Most unsolved tickets per agent",
        help_text="Automatic assignment stops giving an agent tickets at this many unsolved "
        "tickets of this department; the rest wait in the backlog. Empty: no limit.",
    )
    assign_offline_agents = forms.BooleanField(
        required=False, label="Away and offline agents get tickets too"
    )
    hand_back_when_offline = forms.BooleanField(
        required=False,
        label="An agent going offline hands their unsolved tickets back to the backlog",
    )

    def __init__(self, *args: Any, members: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["members"].choices = [  # type: ignore[attr-defined]
            (str(m.id), f"{m.user.display_name} ({m.get_role_display()})") for m in members
        ]


def split_addresses(value: str) -> list[str]:
    return [part.strip() for part in value.replace(",", "\n").splitlines() if part.strip()]


class ImapSettingsForm(forms.Form):
    """A mailbox's IMAP settings: part of the mailbox form, and what *Test connection*
    sends before saving."""

    imap_enabled = forms.BooleanField(required=False, label="Poll an IMAP mailbox")
    imap_host = forms.CharField(max_length=253, required=False, label="IMAP server")
    imap_port = forms.IntegerField(min_value=1, max_value=65535, initial=993, label="Port")
    imap_security = forms.ChoiceField(
        choices=ImapSecurity.choices, initial=ImapSecurity.SSL, label="Connection security"
    )
    imap_username = forms.CharField(max_length=254, required=False, label="User name")
    imap_password = forms.CharField(
        required=False,
        label="Password",
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave empty to keep the stored password.",
    )
    imap_folder = forms.CharField(max_length=200, initial="INBOX", label="Folder")
    imap_archive_folder = forms.CharField(
        max_length=200,
        required=False,
        label="Archive folder",
        help_text="Move fetched mail here; empty: mark seen.",
    )


class MailboxForm(ImapSettingsForm):
    address = forms.EmailField(max_length=254)
    aliases = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One address per line; mail to these lands here too.",
    )
    display_name = forms.CharField(max_length=120, required=False)
    # A bare QuerySet: the scoped manager would need a tenant at import time.
    department: forms.ModelChoiceField[Department] = forms.ModelChoiceField(
        queryset=QuerySet(model=Department).none()
    )
    is_default = forms.BooleanField(required=False, label="Default mailbox")
    is_active = forms.BooleanField(required=False, initial=True, label="Active")
    auto_ack_enabled = forms.BooleanField(
        required=False, initial=True, label="Send an acknowledgement for new requests"
    )
    auto_ack_subject = forms.CharField(max_length=250, required=False)
    auto_ack_body = forms.CharField(widget=forms.Textarea(attrs={"rows": 7}), required=False)

    def __init__(
        self, *args: Any, departments: Any, has_password: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = departments  # type: ignore[attr-defined]
        if not has_password:
            self.fields["imap_password"].help_text = ""

    def clean_aliases(self) -> list[str]:
        aliases = split_addresses(self.cleaned_data.get("aliases", ""))
        for alias in aliases:
            forms.EmailField().clean(alias)
        return aliases

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("imap_enabled") and not (data.get("imap_host") and data.get("imap_username")):
            raise forms.ValidationError("IMAP polling needs a host and a user name.")
        return data


def _timezones() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


class BusinessHoursForm(forms.Form):
    """A schedule as people write it: per weekday '09:00-12:00, 13:00-17:00' (empty: closed),
    holidays one per line as 'YYYY-MM-DD name'."""

    name = forms.CharField(max_length=120)
    timezone = forms.ChoiceField(choices=_timezones, initial="UTC")
    holidays = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "2026-12-25 Christmas"}),
        help_text="One day a line: YYYY-MM-DD and a name.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for day, label in enumerate(DAY_NAMES):
            self.fields[f"day_{day}"] = forms.CharField(
                label=label,
                required=False,
                max_length=200,
                widget=forms.TextInput(attrs={"placeholder": "closed"}),
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
        holidays = []
        for line in (data.get("holidays") or "").splitlines():
            if not line.strip():
                continue
            day_text, _, label = line.strip().partition(" ")
            try:
                holidays.append((datetime.date.fromisoformat(day_text), label.strip()))
            except ValueError:
                self.add_error("holidays", f"{day_text!r} is not a date (YYYY-MM-DD).")
                break
        data["holiday_list"] = holidays
        return data

    @staticmethod
    def initial_for(hours: Any) -> dict[str, Any]:
        initial: dict[str, Any] = {"name": hours.name, "timezone": hours.timezone}
        for day in range(7):
            initial[f"day_{day}"] = ", ".join(
                f"{i['start']}-{i['end']}" for i in hours.intervals if i["day"] == day
            )
        initial["holidays"] = "\n".join(
            f"{holiday.date.isoformat()} {holiday.name}".strip() for holiday in hours.holidays.all()
        )
        return initial
