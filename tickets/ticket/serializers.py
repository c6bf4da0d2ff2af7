"""API shapes for tickets and messages. Serializers check shape; services check rules."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from helpdesk.api.fields import UUIDField
from tickets.contacts.serializers import CustomFieldValue
from tickets.models import (
    Contact,
    DeliveryStatus,
    Message,
    MessageKind,
    SatisfactionRating,
    Ticket,
    TicketPriority,
    TicketStatus,
)
from tickets.sla import selectors as sla
from tickets.ticket.services import BodyFormat


class TicketContactOutput(serializers.ModelSerializer[Contact]):
    class Meta:
        model = Contact
        fields = ["id", "email", "name"]


class TicketAssigneeOutput(serializers.Serializer[Any]):
    id = UUIDField()
    name = serializers.CharField(source="user.display_name")
    email = serializers.EmailField(source="user.email")


class TicketDepartmentOutput(serializers.Serializer[Any]):
    id = UUIDField()
    name = serializers.CharField()


class TicketOutput(serializers.ModelSerializer[Ticket]):
    contact = TicketContactOutput()
    assignee = TicketAssigneeOutput(allow_null=True)
    department = TicketDepartmentOutput()
    tags = serializers.SerializerMethodField()
    type = TicketDepartmentOutput(allow_null=True, help_text="Ticket type (id, name).")
    custom_status = TicketDepartmentOutput(allow_null=True, help_text="Custom status (id, name).")
    merged_into = serializers.SerializerMethodField()
    is_unread = serializers.SerializerMethodField()
    sla_state = serializers.SerializerMethodField()

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
            "last_message_snippet",
            "type",
            "custom_status",
            "custom_fields",
            "due_at",
            "sla_due_at",
            "sla_metric",
            "sla_paused",
            "sla_state",
            "is_spam",
            "merged_into",
            "is_unread",
        ]

    @extend_schema_field(serializers.ChoiceField(choices=list(sla.SLA_STATES)))
    def get_sla_state(self, ticket: Ticket) -> str:
        """breached (a running target is missed), due_soon (within the hour), on_track,
        paused (waiting on the customer or on hold) or none (no SLA policy applies)."""
        return sla.sla_state(ticket, timezone.now())

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_merged_into(self, ticket: Ticket) -> int | None:
        """The number of the ticket this one was merged into."""
        # No query when merged_into_id is None: Django answers None from the id alone.
        return ticket.merged_into.number if ticket.merged_into is not None else None

    @extend_schema_field(serializers.BooleanField(allow_null=True))
    def get_is_unread(self, ticket: Ticket) -> bool | None:
        """In lists: new activity since the caller last opened the ticket."""
        is_read = getattr(ticket, "is_read", None)
        return None if is_read is None else not is_read

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_tags(self, ticket: Ticket) -> list[str]:
        return [tag.name for tag in ticket.tags.all()]


class TicketCreateInput(serializers.Serializer[Any]):
    subject = serializers.CharField(max_length=250)
    body = serializers.CharField(max_length=1_000_000)
    contact_email = serializers.EmailField(max_length=254)
    contact_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    priority = serializers.ChoiceField(choices=TicketPriority.choices, required=False)
    department = serializers.CharField(required=False, help_text="Department id or name.")
    tags = serializers.ListField(
        child=serializers.CharField(max_length=60), required=False, max_length=50
    )
    direction = serializers.ChoiceField(
        choices=["inbound", "outbound"],
        default="inbound",
        help_text="inbound (the default): the body is the customer's request, as if they had"
        " written in. outbound: the member emails the customer, as New ticket → Email does in"
        " the browser: the body is the member's public reply, mailed to `contact_email`; the"
        " ticket is an email ticket assigned to the member and waits on the customer.",
    )
    body_format = serializers.ChoiceField(
        choices=BodyFormat.choices,
        required=False,
        help_text="outbound only: markdown mails the body as sanitized HTML with the text as"
        " its plain-text part (default text).",
    )
    cc = serializers.ListField(
        child=serializers.EmailField(),
        required=False,
        max_length=20,
        help_text="outbound only: copy the first mail to these addresses too.",
    )
    bcc = serializers.ListField(
        child=serializers.EmailField(),
        required=False,
        max_length=20,
        help_text="outbound only: blind copies of the first mail.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["direction"] == "inbound":
            given = [name for name in ("body_format", "cc", "bcc") if name in attrs]
            if given:
                raise serializers.ValidationError(
                    dict.fromkeys(given, "Only for a ticket you email out (direction outbound).")
                )
        return attrs


class TicketUpdateInput(serializers.Serializer[Any]):
    subject = serializers.CharField(max_length=250, required=False)
    status = serializers.ChoiceField(choices=TicketStatus.choices, required=False)
    priority = serializers.ChoiceField(choices=TicketPriority.choices, required=False)
    department = serializers.CharField(required=False, help_text="Department id or name.")
    assignee = UUIDField(required=False, allow_null=True, help_text="Member id; null unassigns.")
    tags = serializers.ListField(
        child=serializers.CharField(max_length=60), required=False, max_length=50
    )
    type = UUIDField(required=False, allow_null=True, help_text="Ticket type id.")
    custom_status = UUIDField(
        required=False, allow_null=True, help_text="Custom status id; sets the status it maps onto."
    )
    due_at = serializers.DateTimeField(required=False, allow_null=True)
    custom_fields = serializers.DictField(
        child=CustomFieldValue(),
        required=False,
        help_text="Values by field key; null or empty removes a value.",
    )


class TicketListQuery(serializers.Serializer[Any]):
    """The inbox's filters (documentation and shape; tickets.inbox checks the values).
    Custom ticket fields filter as `cf_<key>=<value>`."""

    view = serializers.ChoiceField(
        choices=["mine", "unassigned", "open", "waiting", "on_hold", "solved", "closed", "spam"],
        required=False,
        help_text="A built-in view; without it, every ticket.",
    )
    saved = UUIDField(required=False, help_text="A saved view's id.")
    status = serializers.CharField(
        required=False, max_length=200, help_text="Comma-separated: open,waiting,on_hold,…"
    )
    priority = serializers.CharField(required=False, max_length=200, help_text="Comma-separated.")
    assignee = serializers.CharField(
        required=False, help_text="Member id, `me`, or `none` for unassigned."
    )
    department = UUIDField(required=False)
    type = serializers.CharField(
        required=False, help_text="Ticket type id, or `none` for tickets without a type."
    )
    mailbox = serializers.CharField(
        required=False,
        help_text="Mailbox id, or `none` for tickets that came in through no mailbox.",
    )
    custom_status = UUIDField(required=False)
    channel = serializers.CharField(required=False, max_length=16)
    contact = UUIDField(required=False)
    company = serializers.CharField(
        required=False,
        help_text="Company id (the contact's company), or `none` for contacts without one.",
    )
    tag = serializers.CharField(required=False, max_length=60)
    untagged = serializers.BooleanField(required=False, help_text="Tickets without any tag.")
    created_after = serializers.CharField(
        required=False,
        help_text="Date (YYYY-MM-DD, midnight UTC) or ISO datetime; this and every other"
        " `_after` is inclusive, every `_before` exclusive.",
    )
    created_before = serializers.CharField(required=False)
    updated_after = serializers.CharField(required=False)
    updated_before = serializers.CharField(required=False)
    solved_after = serializers.CharField(required=False, help_text="By the latest solve.")
    solved_before = serializers.CharField(required=False)
    reopened_after = serializers.CharField(
        required=False,
        help_text="Reopened (from solved or closed back to an unsolved status) from then.",
    )
    reopened_before = serializers.CharField(required=False)
    sla_result = serializers.CharField(
        required=False,
        help_text="An SLA target's outcome: `<metric>:met` or `<metric>:missed`, the metric"
        " one of first_response, next_response, resolution; dated by `sla_after` and"
        " `sla_before` (its completion, or its breach).",
    )
    sla_after = serializers.CharField(required=False)
    sla_before = serializers.CharField(required=False)
    open_at = serializers.CharField(
        required=False,
        help_text="Unsolved at this moment (date or ISO datetime): the reports' backlog.",
    )
    created_weekday = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=6,
        help_text="Created on this weekday (0 Monday) in the help desk's time zone.",
    )
    created_hour = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=23,
        help_text="Created in this hour (0 to 23) in the help desk's time zone.",
    )
    due = serializers.ChoiceField(
        choices=["overdue", "due_today", "scheduled", "none"], required=False
    )
    sla = serializers.ChoiceField(
        choices=list(sla.SLA_STATES), required=False, help_text="The SLA state of the ticket."
    )
    spam = serializers.BooleanField(required=False)
    q = serializers.CharField(required=False, max_length=500, help_text="Full-text search.")
    sort = serializers.ChoiceField(
        choices=["-created", "created", "-updated", "-priority", "due", "sla"],
        required=False,
        help_text="Default newest first; `due` lists tickets with a due date, soonest first; "
        "`sla` those with a running SLA target, the first one due first.",
    )

    def validate_assignee(self, value: str) -> str:
        if value in {"me", "none"}:
            return value
        try:
            UUIDField().to_internal_value(value)
        except serializers.ValidationError as error:
            raise serializers.ValidationError("a member id, `me` or `none`") from error
        return value

    def validate_status(self, value: str) -> str:
        return _comma_choices(value, TicketStatus.values)

    def validate_priority(self, value: str) -> str:
        return _comma_choices(value, TicketPriority.values)

    def validate_type(self, value: str) -> str:
        return _id_or_none(value)

    def validate_mailbox(self, value: str) -> str:
        return _id_or_none(value)

    def validate_company(self, value: str) -> str:
        return _id_or_none(value)


def _id_or_none(value: str) -> str:
    if value == "none":
        return value
    try:
        UUIDField().to_internal_value(value)
    except serializers.ValidationError as error:
        raise serializers.ValidationError("an id or `none`") from error
    return value


def _comma_choices(value: str, allowed: list[str]) -> str:
    wrong = [part for part in value.split(",") if part.strip() and part.strip() not in allowed]
    if wrong:
        raise serializers.ValidationError(f"{wrong[0]!r} is not one of {', '.join(allowed)}")
    return value


class MessageAuthorOutput(serializers.Serializer[Any]):
    type = serializers.CharField()
    name = serializers.CharField()
    email = serializers.EmailField(allow_blank=True)


class MessageOutput(serializers.ModelSerializer[Message]):
    author = serializers.SerializerMethodField()
    delivery_status = serializers.ChoiceField(
        choices=DeliveryStatus.choices,
        read_only=True,
        help_text="The state of its email (its outbox email's); empty when never emailed.",
    )
    delivery_error = serializers.CharField(read_only=True)
    email_cc = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text="For mail: its other To and Cc addresses (followers only if the sender "
        "was the requester or a follower); for an agent's reply, its one-off Cc.",
    )
    email_bcc = serializers.ListField(
        child=serializers.CharField(), read_only=True, help_text="An agent's reply: its Bcc."
    )
    email_to = serializers.ListField(
        child=serializers.CharField(), read_only=True, help_text="A forward: whom it went to."
    )

    class Meta:
        model = Message
        fields = [
            "id",
            "kind",
            "body_text",
            "body_html",
            "author",
            "event",
            "email_cc",
            "email_bcc",
            "email_to",
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


class MessageFormatFields(serializers.Serializer[Any]):
    body_format = serializers.ChoiceField(
        choices=BodyFormat.choices,
        default=BodyFormat.TEXT,
        help_text="markdown: the body is Markdown (bold, italics, links, lists, quotes, code),"
        " stored and mailed as sanitized HTML with the text as its plain-text part.",
    )


class MessageCopiesFields(MessageFormatFields):
    cc = serializers.ListField(
        child=serializers.EmailField(),
        required=False,
        max_length=20,
        help_text="A public reply only: copy it to these addresses too (this reply only).",
    )
    bcc = serializers.ListField(
        child=serializers.EmailField(),
        required=False,
        max_length=20,
        help_text="A public reply only: blind copies (in no header).",
    )


class MessageForwardInput(MessageFormatFields):
    to = serializers.ListField(
        child=serializers.EmailField(), min_length=1, max_length=20, help_text="Forward to."
    )
    note = serializers.CharField(
        max_length=100_000,
        required=False,
        default="",
        allow_blank=True,
        help_text="The agent's words on top of the forwarded message.",
    )


class MessageCreateInput(MessageCopiesFields):
    kind = serializers.ChoiceField(choices=[MessageKind.REPLY, MessageKind.NOTE])
    body = serializers.CharField(max_length=1_000_000)
    attachments = serializers.ListField(
        child=serializers.FileField(),
        required=False,
        max_length=20,
        help_text="Files (multipart/form-data); emailed with a public reply.",
    )
    articles = serializers.ListField(
        child=UUIDField(),
        required=False,
        max_length=20,
        help_text="Knowledge-base articles the reply carries (their link or text): a public"
        " reply records those it still contains on the ticket, and counts them as sent.",
    )
    seen_up_to = UUIDField(
        required=False,
        help_text="The newest message the agent had read: a reply is refused (409 stale_reply,"
        " with the new messages' ids) when someone else wrote after it.",
    )
    status = serializers.ChoiceField(
        choices=TicketStatus.choices,
        required=False,
        help_text="Set the ticket's status with the message.",
    )


class FollowerOutput(serializers.ModelSerializer[Contact]):
    class Meta:
        model = Contact
        fields = ["id", "email", "name"]


class FollowerAddInput(serializers.Serializer[Any]):
    emails = serializers.ListField(
        child=serializers.EmailField(),
        min_length=1,
        max_length=20,
        help_text="Copied on every public reply from now on; each becomes a contact.",
    )


class MergeInput(serializers.Serializer[Any]):
    into = serializers.IntegerField(min_value=1, help_text="The surviving ticket's number.")


class OpenTicketOutput(serializers.Serializer[Any]):
    assigned = serializers.BooleanField(help_text="The ticket became the caller's by opening it.")
    ticket = TicketOutput()


class PresenceInput(serializers.Serializer[Any]):
    state = serializers.ChoiceField(choices=["viewing", "replying", "left"], default="viewing")


class PresenceOutput(serializers.Serializer[Any]):
    member_id = serializers.CharField()
    name = serializers.CharField()
    state = serializers.CharField()
    seen = serializers.FloatField(help_text="Unix time of the last ping.")


class TicketSatisfactionOutput(serializers.ModelSerializer[SatisfactionRating]):
    score = serializers.CharField(help_text="good, okay, bad, or empty while unanswered.")

    class Meta:
        model = SatisfactionRating
        fields = ["score", "comment", "rated_at", "sent_at", "send_after"]


class TicketDetailOutput(TicketOutput):
    """A ticket with its satisfaction survey (the survey comes in the serializer context as
    `satisfaction`, read by the view: lists never load it)."""

    satisfaction = serializers.SerializerMethodField()

    class Meta(TicketOutput.Meta):
        fields = [*TicketOutput.Meta.fields, "satisfaction"]

    @extend_schema_field(TicketSatisfactionOutput(allow_null=True))
    def get_satisfaction(self, ticket: Any) -> dict[str, Any] | None:
        """The ticket's survey: when it is or was sent and the customer's answer; null when
        the ticket has none."""
        rating = self.context.get("satisfaction")
        return None if rating is None else TicketSatisfactionOutput(rating).data
