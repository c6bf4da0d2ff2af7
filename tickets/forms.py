from __future__ import annotations

from typing import Any

from django import forms

from tickets.models import MessageKind, TicketPriority, TicketStatus

MAX_UPLOAD_BYTES = 25 * 1024 * 1024


class MessageForm(forms.Form):
    kind = forms.ChoiceField(
        choices=[(MessageKind.REPLY, "Public reply"), (MessageKind.NOTE, "Internal note")]
    )
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), max_length=1_000_000)
    status = forms.ChoiceField(choices=[("", "Keep status"), *TicketStatus.choices], required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        files = self.files.getlist("attachments") if self.files else []
        if sum(f.size for f in files) > MAX_UPLOAD_BYTES:
            raise forms.ValidationError("Attachments are limited to 25 MB in all.")
        return data


class TicketFieldsForm(forms.Form):
    status = forms.ChoiceField(choices=TicketStatus.choices)
    priority = forms.ChoiceField(choices=TicketPriority.choices)
    department = forms.UUIDField()
    assignee = forms.UUIDField(required=False)
