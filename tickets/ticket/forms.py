from __future__ import annotations

import re
from typing import Any
from uuid import UUID

from django import forms

from tickets.models import MessageKind, TicketPriority, TicketStatus
from tickets.ticket.formatting import MAX_INLINE_TOKEN
from tickets.ticket.services import BodyFormat, NewAttachment

INLINE_NAME = re.compile(rf"[A-Za-z0-9._-]{{1,{MAX_INLINE_TOKEN}}}")

MAX_UPLOAD_BYTES = 25 * 1024 * 1024


class MessageForm(forms.Form):
    kind = forms.ChoiceField(
        choices=[(MessageKind.REPLY, "Public reply"), (MessageKind.NOTE, "Internal note")]
    )
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), max_length=1_000_000)
    status = forms.ChoiceField(choices=[("", "Keep status"), *TicketStatus.choices], required=False)
    seen_up_to = forms.UUIDField(
        required=False, help_text="The newest message on screen when the editor opened."
    )
    body_format = forms.ChoiceField(choices=BodyFormat.choices, required=False)
    cc = forms.CharField(required=False, max_length=4000)
    bcc = forms.CharField(required=False, max_length=4000)

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        check_uploads(self)
        return data


def check_uploads(form: forms.Form) -> None:
    """Attachments and pasted pictures: 25 MB in all; a picture is an image with a token
    name the editor gave it."""
    files = form.files.getlist("attachments") if form.files else []
    pictures = form.files.getlist("inline_images") if form.files else []
    if sum(f.size or 0 for f in [*files, *pictures]) > MAX_UPLOAD_BYTES:
        raise forms.ValidationError("Attachments are limited to 25 MB in all.")
    for picture in pictures:
        if not (picture.content_type or "").startswith("image/") or not INLINE_NAME.fullmatch(
            picture.name or ""
        ):
            raise forms.ValidationError(f"“{picture.name}” is not a pasted picture.")


def inline_images(files: Any) -> list[NewAttachment]:
    """The pictures pasted or dropped into the editor, each known by its file name, which
    the text shows as `![name](cid:<file name>)`."""
    return [
        NewAttachment(
            filename=upload.name,
            payload=upload.read(),
            content_type=upload.content_type,
            content_id=upload.name,
            is_inline=True,
        )
        for upload in files.getlist("inline_images")
    ]


class NewTicketForm(forms.Form):
    """A ticket an agent opens: a phone call they log (the customer's words), or an email
    they write to a customer."""

    channel = forms.ChoiceField(
        choices=[
            ("phone", "Phone call: log what the customer asked"),
            ("email", "Email the customer"),
        ]
    )
    contact_email = forms.EmailField(max_length=254, label="Customer email")
    contact_name = forms.CharField(max_length=120, required=False, label="Customer name")
    subject = forms.CharField(max_length=250)
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 8}), max_length=1_000_000)
    department = forms.UUIDField()
    priority = forms.ChoiceField(choices=TicketPriority.choices)
    body_format = forms.ChoiceField(choices=BodyFormat.choices, required=False)
    cc = forms.CharField(required=False, max_length=4000)
    bcc = forms.CharField(required=False, max_length=4000)

    def clean(self) -> dict[str, Any]:
        super().clean()
        check_uploads(self)
        return self.cleaned_data


class ForwardForm(forms.Form):
    to = forms.CharField(max_length=4000)
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), required=False, max_length=100_000
    )
    body_format = forms.ChoiceField(choices=BodyFormat.choices, required=False)


class TicketFieldsForm(forms.Form):
    """The sidebar's fields. `status` is a base status or `custom:<id>`; custom field values
    come as cf_<key> and are checked by tickets.configuration."""

    status = forms.CharField(max_length=60)
    priority = forms.ChoiceField(choices=TicketPriority.choices)
    department = forms.UUIDField()
    assignee = forms.UUIDField(required=False)
    type = forms.UUIDField(required=False)
    due_at = forms.DateTimeField(required=False)
    tags = forms.CharField(required=False, max_length=2000)

    def clean_status(self) -> str:
        status: str = self.cleaned_data["status"]
        if status in TicketStatus.values:
            return status
        if status.startswith("custom:"):
            try:
                UUID(status.split(":", 1)[1])
            except ValueError:
                raise forms.ValidationError("Unknown status.") from None
            return status
        raise forms.ValidationError("Unknown status.")

    @property
    def custom_status_id(self) -> UUID | None:
        """The chosen custom status (`custom:<id>`), or None for a base status."""
        status = self.cleaned_data["status"]
        return UUID(status.split(":", 1)[1]) if status.startswith("custom:") else None


# The help center's request form and the tracking page's reply: what a stranger may send.
PUBLIC_MAX_FILES = 5
PUBLIC_MAX_UPLOAD_BYTES = 10 * 1024 * 1024
PUBLIC_MAX_MESSAGE_CHARS = 20_000


def _check_public_files(form: forms.Form) -> None:
    files = form.files.getlist("attachments") if form.files else []
    if len(files) > PUBLIC_MAX_FILES:
        form.add_error(None, f"Attach at most {PUBLIC_MAX_FILES} files.")
    elif sum(f.size or 0 for f in files) > PUBLIC_MAX_UPLOAD_BYTES:
        form.add_error(None, "Attachments are limited to 10 MB in all.")


class PublicRequestForm(forms.Form):
    """A request from the help center. `website` is a honeypot: hidden from people, filled
    in by form-filling bots."""

    name = forms.CharField(max_length=120)
    email = forms.EmailField(max_length=254)
    subject = forms.CharField(max_length=200)
    message = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 8}), max_length=PUBLIC_MAX_MESSAGE_CHARS
    )
    website = forms.CharField(required=False, max_length=200)

    def clean(self) -> dict[str, Any]:
        super().clean()
        _check_public_files(self)
        return self.cleaned_data

    @property
    def is_bot(self) -> bool:
        return bool(self.data.get("website"))


class PortalReplyForm(forms.Form):
    """The requester's answer from the tracking page."""

    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}), max_length=PUBLIC_MAX_MESSAGE_CHARS
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        _check_public_files(self)
        return self.cleaned_data


class PortalSignInForm(forms.Form):
    """The customer portal's sign-in: where to mail the one-time link."""

    email = forms.EmailField(max_length=254)
