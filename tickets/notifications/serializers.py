"""API input and output shapes of notifications."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from helpdesk.api.fields import UUIDField


class NotificationSettingsData(serializers.Serializer[Any]):
    assigned = serializers.BooleanField(required=False)
    mentioned = serializers.BooleanField(required=False)
    customer_replied = serializers.BooleanField(required=False)
    satisfaction_rated = serializers.BooleanField(required=False)
    sla_breached = serializers.BooleanField(required=False)
    task_reminder = serializers.BooleanField(required=False)


class NotificationOutput(serializers.Serializer[Any]):
    id = UUIDField()
    kind = serializers.CharField()
    ticket = serializers.IntegerField(source="ticket.number")
    ticket_subject = serializers.CharField(source="ticket.subject")
    message = UUIDField(source="message_id", allow_null=True)
    actor = serializers.CharField(source="actor.user.display_name", allow_null=True, default=None)
    created_at = serializers.DateTimeField()
    read_at = serializers.DateTimeField(allow_null=True)


class NotificationReadInput(serializers.Serializer[Any]):
    ids = serializers.ListField(child=UUIDField(), required=False, help_text="Without ids: all.")


class UnreadCountOutput(serializers.Serializer[Any]):
    unread = serializers.IntegerField()
