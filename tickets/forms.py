from __future__ import annotations

from django import forms

from tickets.models import MessageKind, TicketPriority, TicketStatus


class MessageForm(forms.Form):
    kind = forms.ChoiceField(
        choices=[(MessageKind.REPLY, "Public reply"), (MessageKind.NOTE, "Internal note")]
    )
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), max_length=1_000_000)
    status = forms.ChoiceField(choices=[("", "Keep status"), *TicketStatus.choices], required=False)


class TicketFieldsForm(forms.Form):
    status = forms.ChoiceField(choices=TicketStatus.choices)
    priority = forms.ChoiceField(choices=TicketPriority.choices)
    department = forms.UUIDField()
    assignee = forms.UUIDField(required=False)
