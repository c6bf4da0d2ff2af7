"""API shapes for satisfaction ratings: the list of answers, and a ticket's survey in its
detail. Serializers check shape; tickets.satisfaction checks the rules."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from helpdesk.api.fields import UUIDField
from tickets.models import SatisfactionRating, SatisfactionScore
from tickets.ticket.serializers import TicketAssigneeOutput, TicketContactOutput


class SatisfactionRatingOutput(serializers.ModelSerializer[SatisfactionRating]):
    ticket = serializers.IntegerField(source="ticket.number", help_text="The ticket's number.")
    ticket_subject = serializers.CharField(source="ticket.subject")
    contact = TicketContactOutput()
    assignee = TicketAssigneeOutput(
        allow_null=True, help_text="The agent who had the ticket when it was solved."
    )
    score = serializers.ChoiceField(choices=SatisfactionScore.choices)

    class Meta:
        model = SatisfactionRating
        fields = [
            "id",
            "ticket",
            "ticket_subject",
            "contact",
            "assignee",
            "score",
            "comment",
            "rated_at",
            "sent_at",
        ]


class SatisfactionRatingListQuery(serializers.Serializer[Any]):
    contact = UUIDField(required=False, help_text="A contact's id.")
    score = serializers.ChoiceField(choices=SatisfactionScore.choices, required=False)
    ticket = serializers.IntegerField(required=False, min_value=1, help_text="A ticket number.")
    rated_after = serializers.DateTimeField(
        required=False, help_text="ISO 8601; rated at or after this time."
    )
    rated_before = serializers.DateTimeField(
        required=False, help_text="ISO 8601; rated before this time."
    )
