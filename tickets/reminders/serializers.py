"""API input and output shapes of tasks."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from helpdesk.api.fields import UUIDField


class TaskOutput(serializers.Serializer[Any]):
    id = UUIDField()
    ticket = serializers.IntegerField(source="ticket.number")
    ticket_subject = serializers.CharField(source="ticket.subject")
    title = serializers.CharField()
    assignee = UUIDField(source="assignee_id", help_text="Member id.")
    assignee_name = serializers.CharField(source="assignee.user.display_name")
    due_at = serializers.DateTimeField(allow_null=True)
    remind_at = serializers.DateTimeField(allow_null=True)
    reminded_at = serializers.DateTimeField(allow_null=True)
    done = serializers.BooleanField()
    overdue = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class TaskCreateInput(serializers.Serializer[Any]):
    ticket = serializers.IntegerField(min_value=1, help_text="Ticket number.")
    title = serializers.CharField(max_length=200)
    assignee = UUIDField(required=False, allow_null=True, help_text="Member id; default: you.")
    due_at = serializers.DateTimeField(required=False, allow_null=True)
    remind_at = serializers.DateTimeField(required=False, allow_null=True)
    done = serializers.BooleanField(required=False, default=False)


class TaskUpdateInput(serializers.Serializer[Any]):
    title = serializers.CharField(max_length=200, required=False)
    assignee = UUIDField(required=False, help_text="Member id.")
    due_at = serializers.DateTimeField(required=False, allow_null=True)
    remind_at = serializers.DateTimeField(required=False, allow_null=True)
    done = serializers.BooleanField(required=False)


class TaskListQuery(serializers.Serializer[Any]):
    ticket = serializers.IntegerField(min_value=1, required=False)
    assignee = serializers.CharField(required=False, help_text="A member id, or `me`.")
    done = serializers.BooleanField(required=False, allow_null=True, default=None)
