"""API shapes for tickets and messages. Serializers check shape; services check rules."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tickets.models import (
    Contact,
    EmailTemplateKind,
    InboundEmail,
    InboundEmailStatus,
    Message,
    MessageKind,
    Ticket,
    TicketPriority,
    TicketStatus,
)


class TicketContactOutput(serializers.ModelSerializer):
    class Meta:
        model = Contact
        fields = ["id", "email", "name"]


class TicketAssigneeOutput(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField(source="user.display_name")
    email = serializers.EmailField(source="user.email")


class TicketDepartmentOutput(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()


class TicketOutput(serializers.ModelSerializer):
    contact = TicketContactOutput()
    assignee = TicketAssigneeOutput(allow_null=True)
    department = TicketDepartmentOutput()
    tags = serializers.SerializerMethodField()

    class Meta:
        model = Ticket
        fields = [
            "id",
            "number",
            "subject",
            "status",
            "priority",
            "channel",
            "assignee",
            "department",
            "tags",
            "contact",
            "created_at",
            "updated_at",
            "last_message_at",
        ]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_tags(self, ticket: Ticket) -> list[str]:
        return [tag.name for tag in ticket.tags.all()]


class TicketCreateInput(serializers.Serializer):
    subject = serializers.CharField(max_length=250)
    body = serializers.CharField(max_length=1_000_000)
    contact_email = serializers.EmailField()
    contact_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    priority = serializers.ChoiceField(choices=TicketPriority.choices, required=False)
    department = serializers.CharField(required=False, help_text="Department id or name.")
    tags = serializers.ListField(
        child=serializers.CharField(max_length=60), required=False, max_length=50
    )


class TicketUpdateInput(serializers.Serializer):
    subject = serializers.CharField(max_length=250, required=False)
    status = serializers.ChoiceField(choices=TicketStatus.choices, required=False)
    priority = serializers.ChoiceField(choices=TicketPriority.choices, required=False)
    department = serializers.CharField(required=False, help_text="Department id or name.")
    assignee = serializers.UUIDField(
        required=False, allow_null=True, help_text="Member id; null unassigns."
    )
    tags = serializers.ListField(
        child=serializers.CharField(max_length=60), required=False, max_length=50
    )


class TicketListQuery(serializers.Serializer):
    status = serializers.ChoiceField(choices=TicketStatus.choices, required=False)
    assignee = serializers.CharField(
        required=False, help_text="Member id, `me`, or `none` for unassigned."
    )
    department = serializers.UUIDField(required=False)
    tag = serializers.CharField(required=False, max_length=60)
    q = serializers.CharField(required=False, max_length=500, help_text="Full-text search.")

    def validate_assignee(self, value: str) -> str:
        if value in {"me", "none"}:
            return value
        try:
            serializers.UUIDField().to_internal_value(value)
        except serializers.ValidationError as error:
            raise serializers.ValidationError("a member id, `me` or `none`") from error
        return value


class MessageAuthorOutput(serializers.Serializer):
    type = serializers.CharField()
    name = serializers.CharField()
    email = serializers.EmailField(allow_blank=True)


class MessageOutput(serializers.ModelSerializer):
    author = serializers.SerializerMethodField()

    class Meta:
        model = Message
        fields = [
            "id",
            "kind",
            "body_text",
            "author",
            "event",
            "delivery_status",
            "delivery_error",
            "created_at",
        ]

    @extend_schema_field(MessageAuthorOutput(allow_null=True))
    def get_author(self, message: Message) -> dict[str, Any] | None:
        if message.author_member is not None:
            user = message.author_member.user
            return {"type": "agent", "name": user.display_name, "email": user.email}
        if message.author_contact is not None:
            contact = message.author_contact
            return {"type": "contact", "name": contact.display_name, "email": contact.email}
        return None


class MessageCreateInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=[MessageKind.REPLY, MessageKind.NOTE])
    body = serializers.CharField(max_length=1_000_000)
    attachments = serializers.ListField(
        child=serializers.FileField(),
        required=False,
        max_length=20,
        help_text="Files (multipart/form-data); emailed with a public reply.",
    )
    status = serializers.ChoiceField(
        choices=TicketStatus.choices,
        required=False,
        help_text="Set the ticket's status with the message.",
    )


class InboundEmailOutput(serializers.ModelSerializer):
    mailbox = serializers.EmailField(source="mailbox.address", allow_null=True, default=None)
    ticket = serializers.IntegerField(source="ticket.number", allow_null=True, default=None)

    class Meta:
        model = InboundEmail
        fields = [
            "id",
            "channel",
            "mailbox",
            "envelope_from",
            "envelope_to",
            "header_recipients",
            "message_id",
            "sha256",
            "size",
            "status",
            "reason",
            "ticket",
            "attempts",
            "created_at",
            "processed_at",
        ]


class InboundEmailListQuery(serializers.Serializer):
    status = serializers.ChoiceField(choices=InboundEmailStatus.choices, required=False)


class NotificationSettingsData(serializers.Serializer):
    assigned = serializers.BooleanField(required=False)
    mentioned = serializers.BooleanField(required=False)
    customer_replied = serializers.BooleanField(required=False)


class EmailTemplateOutput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=EmailTemplateKind.choices)
    department = serializers.UUIDField(allow_null=True)
    custom = serializers.BooleanField(help_text="False: the inherited wording is shown.")
    subject = serializers.CharField(allow_blank=True)
    body = serializers.CharField(allow_blank=True)
    header = serializers.CharField(allow_blank=True)
    footer = serializers.CharField(allow_blank=True)


class EmailTemplateInput(serializers.Serializer):
    subject = serializers.CharField(max_length=250, required=False, allow_blank=True)
    body = serializers.CharField(max_length=20_000, required=False, allow_blank=True)
    header = serializers.CharField(max_length=5_000, required=False, allow_blank=True)
    footer = serializers.CharField(max_length=5_000, required=False, allow_blank=True)


class EmailTemplateQuery(serializers.Serializer):
    department = serializers.UUIDField(required=False, help_text="A department's override.")


class EmailTemplatePreviewOutput(serializers.Serializer):
    subject = serializers.CharField(allow_blank=True)
    body = serializers.CharField(allow_blank=True)
    header = serializers.CharField(allow_blank=True)
    footer = serializers.CharField(allow_blank=True)
