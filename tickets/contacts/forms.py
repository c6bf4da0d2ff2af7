"""Forms of the contact and company pages. They check shape; tickets.contacts checks rules."""

from __future__ import annotations

from typing import Any

from django import forms

from tickets.models import Company, CustomField, CustomFieldType

CUSTOM_PREFIX = "cf_"


def custom_form_field(field: CustomField, value: Any) -> forms.Field:
    """A form field for a tenant's custom field, by its type. Values are checked by
    configuration.clean_custom_values, so only shape is checked here."""
    label = f"{field.label} *" if field.is_required else field.label
    attrs = {"required": True} if field.is_required else {}
    if field.type == CustomFieldType.CHECKBOX:
        return forms.BooleanField(label=field.label, required=False, initial=bool(value))
    if field.type == CustomFieldType.SELECT:
        options = list(field.options)
        if value not in (None, "") and value not in options:
            options.append(value)  # a value from before the option was removed
        return forms.ChoiceField(
            label=label,
            required=False,
            initial=value,
            choices=[("", "—"), *((option, option) for option in options)],
            widget=forms.Select(attrs=attrs),
        )
    if field.type == CustomFieldType.NUMBER:
        return forms.CharField(
            label=label,
            required=False,
            initial=value,
            widget=forms.NumberInput(attrs={"step": "any", **attrs}),
        )
    if field.type == CustomFieldType.DATE:
        return forms.CharField(
            label=label,
            required=False,
            initial=value,
            widget=forms.DateInput(attrs={"type": "date", **attrs}),
        )
    return forms.CharField(
        label=label,
        required=False,
        initial=value,
        max_length=1000,
        widget=forms.TextInput(attrs=attrs),
    )


class CustomFieldsMixin(forms.Form):
    """Adds one `cf_<key>` field per active custom field of the target."""

    def add_custom_fields(self, fields: list[CustomField], values: dict[str, Any]) -> None:
        self.custom_keys = [field.key for field in fields]
        for field in fields:
            self.fields[CUSTOM_PREFIX + field.key] = custom_form_field(field, values.get(field.key))

    def custom_values(self) -> dict[str, Any]:
        """Raw values by key, every active field included (an unticked box is False)."""
        return {key: self.cleaned_data.get(CUSTOM_PREFIX + key) for key in self.custom_keys}

    def custom_bound_fields(self) -> list[forms.BoundField]:
        return [self[CUSTOM_PREFIX + key] for key in self.custom_keys]

    def standard_bound_fields(self) -> list[forms.BoundField]:
        return [
            field for field in self.visible_fields() if not field.name.startswith(CUSTOM_PREFIX)
        ]

    def add_custom_error(self, key: str | None, message: str) -> None:
        name = CUSTOM_PREFIX + key if key in self.custom_keys else None
        self.add_error(name, message)


class ContactForm(CustomFieldsMixin):
    name = forms.CharField(max_length=200, required=False)
    email = forms.CharField(max_length=254, widget=forms.EmailInput)
    phone = forms.CharField(max_length=40, required=False)
    company = forms.ChoiceField(required=False)
    notes = forms.CharField(
        max_length=20_000, required=False, widget=forms.Textarea(attrs={"rows": 4})
    )

    def __init__(
        self,
        *args: Any,
        companies: list[Company],
        custom_fields: list[CustomField],
        values: dict[str, Any],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["company"].choices = [  # type: ignore[attr-defined]
            ("", "No company"),
            *((str(company.id), company.name) for company in companies),
        ]
        self.add_custom_fields(custom_fields, values)


class CompanyForm(CustomFieldsMixin):
    name = forms.CharField(max_length=200)
    domains = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One per line or comma-separated; new contacts with these email domains join.",
    )
    notes = forms.CharField(
        max_length=20_000, required=False, widget=forms.Textarea(attrs={"rows": 4})
    )

    def __init__(
        self, *args: Any, custom_fields: list[CustomField], values: dict[str, Any], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.add_custom_fields(custom_fields, values)

    def clean_domains(self) -> list[str]:
        value = self.cleaned_data.get("domains", "")
        return [part for part in value.replace(",", " ").split() if part]


class MergeForm(forms.Form):
    duplicate = forms.UUIDField()
