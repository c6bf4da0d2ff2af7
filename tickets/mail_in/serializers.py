"""API output and query shapes of received emails."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from tickets.models import (
    InboundEmail,
    InboundEmailStatus,
)


class InboundEmailOutput(serializers.ModelSerializer[InboundEmail]):
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


class InboundEmailListQuery(serializers.Serializer[Any]):
    status = serializers.ChoiceField(choices=InboundEmailStatus.choices, required=False)


class ImapCheckOutput(serializers.Serializer[Any]):
    ok = serializers.BooleanField()
    error = serializers.CharField(help_text="What went wrong, worded for the admin; empty when ok.")
