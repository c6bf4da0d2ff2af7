"""The admin forms of integrations and contact apps: their shape only (the services check
templates, hosts and ranges). Headers and fields are typed one a line."""

from __future__ import annotations

from typing import Any

from django import forms

from automation.models import IntegrationMethod

HEADERS_HELP = "One a line, “Name: value”; placeholders allowed in values."
WRITE_ONLY_HELP = "Stored encrypted and never shown again; leave empty to keep the stored one."


def parse_headers(text: str) -> dict[str, str]:
    """`Name: value` lines as a dict. Raises forms.ValidationError for a line without a
    colon."""
    headers: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise forms.ValidationError(f"Line {number} is not “Name: value”.")
        headers[name.strip()] = value.strip()
    return headers


def show_headers(headers: dict[str, str]) -> str:
    return "\n".join(f"{name}: {value}" for name, value in headers.items())


def parse_fields(text: str) -> list[list[str]]:
    """`path = Label` lines (the label optional) as [path, label] pairs."""
    fields: list[list[str]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        path, _, label = line.partition("=")
        fields.append([path.strip(), label.strip()])
    return fields


def show_fields(fields: list[list[str]]) -> str:
    return "\n".join(f"{path} = {label}" if label != path else path for path, label in fields)


class _SecretFields(forms.Form):
    secret_header_name = forms.CharField(
        label="Secret header",
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "Authorization"}),
    )
    secret_header_value = forms.CharField(
        label="Secret value",
        max_length=4000,
        required=False,
        strip=True,
        help_text=WRITE_ONLY_HELP,
        widget=forms.PasswordInput(
            render_value=False, attrs={"autocomplete": "off", "placeholder": "Bearer …"}
        ),
    )
    remove_secret = forms.BooleanField(label="Remove the stored secret", required=False)
    is_active = forms.BooleanField(label="Active", required=False, initial=True)

    def clean_headers(self) -> dict[str, str]:
        return parse_headers(str(self.cleaned_data.get("headers") or ""))

    def service_arguments(self, *, creating: bool) -> dict[str, Any]:
        """The cleaned data as the service takes it: an empty secret keeps the stored one
        when editing."""
        data = dict(self.cleaned_data)
        remove = data.pop("remove_secret", False)
        if remove:
            data["secret_header_value"] = ""
        elif not data.get("secret_header_value") and not creating:
            data["secret_header_value"] = None
        return data


class IntegrationForm(_SecretFields):
    name = forms.CharField(max_length=100, widget=forms.TextInput(attrs={"placeholder": "Jira"}))
    method = forms.ChoiceField(choices=IntegrationMethod.choices, initial=IntegrationMethod.POST)
    url_template = forms.CharField(
        label="URL",
        max_length=2000,
        widget=forms.TextInput(
            attrs={
                "inputmode": "url",
                "placeholder": "https://api.github.com/repos/acme/app/issues",
            }
        ),
    )
    headers = forms.CharField(
        required=False,
        help_text=HEADERS_HELP,
        widget=forms.Textarea(
            attrs={"rows": 2, "placeholder": "Accept: application/vnd.github+json"}
        ),
    )
    body_template = forms.CharField(
        label="Body (JSON)",
        required=False,
        max_length=20000,
        strip=False,
        widget=forms.Textarea(
            attrs={
                "rows": 5,
                "class": "mono",
                "placeholder": '{"title": "{{ticket.subject}}", "body": "{{ticket.url}}"}',
            }
        ),
    )
    id_path = forms.CharField(
        label="Id path",
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "number, key or data.id"}),
    )
    link_path = forms.CharField(
        label="Link path",
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "html_url"}),
    )
    link_template = forms.CharField(
        label="Link template",
        max_length=2000,
        required=False,
        widget=forms.TextInput(
            attrs={"placeholder": "https://acme.atlassian.net/browse/{{id}}", "inputmode": "url"}
        ),
    )

    field_order = [
        "name",
        "method",
        "url_template",
        "headers",
        "secret_header_name",
        "secret_header_value",
        "remove_secret",
        "body_template",
        "id_path",
        "link_path",
        "link_template",
        "is_active",
    ]


class ContactAppForm(_SecretFields):
    name = forms.CharField(max_length=100, widget=forms.TextInput(attrs={"placeholder": "CRM"}))
    url_template = forms.CharField(
        label="URL",
        max_length=2000,
        widget=forms.TextInput(
            attrs={
                "inputmode": "url",
                "placeholder": "https://crm.example.com/api/people?email={{contact.email}}",
            }
        ),
    )
    headers = forms.CharField(
        required=False,
        help_text=HEADERS_HELP,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "Accept: application/json"}),
    )
    cache_seconds = forms.IntegerField(
        label="Cache time (seconds)", min_value=60, max_value=86400, initial=300
    )
    timeout_seconds = forms.IntegerField(
        label="Time limit (seconds)", min_value=1, max_value=5, initial=3
    )
    display_fields = forms.CharField(
        label="Fields to show",
        required=False,
        help_text="One a line, “path = Label” (plan = Plan, owner.name = Account owner);"
        " empty shows every top-level key.",
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "plan = Plan\nowner.name = Owner"}),
    )

    field_order = [
        "name",
        "url_template",
        "headers",
        "secret_header_name",
        "secret_header_value",
        "remove_secret",
        "cache_seconds",
        "timeout_seconds",
        "display_fields",
        "is_active",
    ]

    def clean_display_fields(self) -> list[list[str]]:
        return parse_fields(str(self.cleaned_data.get("display_fields") or ""))

    def service_arguments(self, *, creating: bool) -> dict[str, Any]:
        data = super().service_arguments(creating=creating)
        data["fields"] = data.pop("display_fields", [])
        return data
