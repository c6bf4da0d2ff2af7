"""The webhook form of the admin page: its shape only (the service checks the target)."""

from __future__ import annotations

from typing import Any

from django import forms

from automation.models import SUBSCRIBABLE_WEBHOOK_EVENTS, WebhookEvent


class WebhookForm(forms.Form):
    url = forms.CharField(
        label="URL",
        max_length=2000,
        # A text input (typed as a URL on phones) styled like the others; the service
        # checks the URL and says what is wrong with it.
        widget=forms.TextInput(
            attrs={"inputmode": "url", "placeholder": "https://example.com/hooks/helpdesk"}
        ),
    )
    description = forms.CharField(max_length=200, required=False)
    events = forms.MultipleChoiceField(
        choices=[(event.value, event.label) for event in SUBSCRIBABLE_WEBHOOK_EVENTS],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one event."},
    )
    is_active = forms.BooleanField(label="Active", required=False, initial=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["events"].help_text = ", ".join(
            WebhookEvent(event).value for event in SUBSCRIBABLE_WEBHOOK_EVENTS
        )
