"""Forms of the ticket configuration pages. They check shape; tickets.configuration checks
the rules (unique names, options of a select field, fixed key and type)."""

from __future__ import annotations

from typing import Any

from django import forms

from tickets.configuration.services import MAX_POSITION, MAX_SURVEY_DELAY_HOURS
from tickets.models import CustomFieldTarget, CustomFieldType, TicketStatus


def first_error(form: forms.Form) -> str:
    """The form's first problem as one sentence naming the field, for a message beside it."""
    for name, errors in form.errors.items():
        field = form.fields.get(name)
        label = field.label if field is not None and field.label else name.replace("_", " ")
        return f"{str(label).capitalize()}: {errors[0]}" if name != "__all__" else str(errors[0])
    return ""


class PositionField(forms.IntegerField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", MAX_POSITION)
        kwargs.setdefault("initial", 0)
        kwargs.setdefault("help_text", "Lower comes first.")
        super().__init__(**kwargs)


class SatisfactionSettingsForm(forms.Form):
    satisfaction_enabled = forms.BooleanField(label="Send surveys", required=False)
    satisfaction_delay_hours = forms.IntegerField(
        label="Hours after solving", min_value=0, max_value=MAX_SURVEY_DELAY_HOURS
    )


class TicketTypeForm(forms.Form):
    name = forms.CharField(max_length=60)
    position = PositionField()


class CustomStatusForm(forms.Form):
    name = forms.CharField(max_length=60)
    base_status = forms.ChoiceField(label="Maps onto", choices=TicketStatus.choices)
    position = PositionField()


class CustomFieldForm(forms.Form):
    """A custom field's definition. Editing hides target, key and type: they are fixed."""

    target = forms.ChoiceField(label="Belongs to", choices=CustomFieldTarget.choices)
    label = forms.CharField(max_length=80)
    key = forms.CharField(
        max_length=40,
        required=False,
        help_text="Stable name in the API and filters: letters, digits and underscores. "
        "Made from the label when left empty. Cannot change later.",
    )
    type = forms.ChoiceField(choices=CustomFieldType.choices, help_text="Cannot change later.")
    options = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}),
        required=False,
        max_length=50_000,
        help_text="Select fields only: one option per line.",
    )
    is_required = forms.BooleanField(
        label="Required to solve",
        required=False,
        help_text="Agents fill it in before solving a ticket (ticket fields), and cannot clear it.",
    )
    is_active = forms.BooleanField(label="Active", required=False, initial=True)
    position = PositionField()

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if editing:
            for name in ("target", "key", "type"):
                del self.fields[name]

    def option_lines(self) -> list[str]:
        options: str = self.cleaned_data.get("options", "")
        return options.splitlines()
