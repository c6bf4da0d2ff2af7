from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet

from departments.models import Department


class DepartmentForm(forms.Form):
    name = forms.CharField(max_length=120)
    description = forms.CharField(
        max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


def split_addresses(value: str) -> list[str]:
    return [part.strip() for part in value.replace(",", "\n").splitlines() if part.strip()]


class MailboxForm(forms.Form):
    address = forms.EmailField(max_length=254)
    aliases = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One address per line; mail to these lands here too.",
    )
    display_name = forms.CharField(max_length=120, required=False)
    # A bare QuerySet: the scoped manager would need a tenant at import time.
    department = forms.ModelChoiceField(queryset=QuerySet(model=Department).none())
    is_default = forms.BooleanField(required=False, label="Default mailbox")
    is_active = forms.BooleanField(required=False, initial=True, label="Active")
    auto_ack_enabled = forms.BooleanField(
        required=False, initial=True, label="Send an acknowledgement for new requests"
    )
    auto_ack_subject = forms.CharField(max_length=250)
    auto_ack_body = forms.CharField(widget=forms.Textarea(attrs={"rows": 7}))
    imap_enabled = forms.BooleanField(required=False, label="Poll an IMAP mailbox")
    imap_host = forms.CharField(max_length=253, required=False)
    imap_port = forms.IntegerField(min_value=1, max_value=65535, initial=993)
    imap_use_ssl = forms.BooleanField(required=False, initial=True, label="Use TLS")
    imap_username = forms.CharField(max_length=254, required=False)
    imap_password = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave empty to keep the stored password.",
    )
    imap_folder = forms.CharField(max_length=200, initial="INBOX")
    imap_archive_folder = forms.CharField(
        max_length=200, required=False, help_text="Move fetched mail here; empty: mark seen."
    )

    def __init__(self, *args: Any, departments: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = departments

    def clean_aliases(self) -> list[str]:
        aliases = split_addresses(self.cleaned_data.get("aliases", ""))
        for alias in aliases:
            forms.EmailField().clean(alias)
        return aliases

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("imap_enabled") and not (data.get("imap_host") and data.get("imap_username")):
            raise forms.ValidationError("IMAP polling needs a host and a user name.")
        return data
