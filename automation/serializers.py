"""API shapes for canned responses, SLA policies and timers."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from automation.models import CannedResponse, CannedResponseScope, SlaPolicy, SlaTimer
from helpdesk.api.fields import UUIDField
from tickets.models import TicketChannel, TicketPriority


class CannedResponseOutput(serializers.ModelSerializer[CannedResponse]):
    department = UUIDField(source="department_id", allow_null=True)
    owner = UUIDField(source="owner_id", allow_null=True)

    class Meta:
        model = CannedResponse
        fields = [
            "id",
            "title",
            "body",
            "scope",
            "department",
            "owner",
            "usage_count",
            "created_at",
            "updated_at",
        ]


class CannedResponseInput(serializers.Serializer[Any]):
    title = serializers.CharField(max_length=120)
    body = serializers.CharField(max_length=50_000)
    scope = serializers.ChoiceField(
        choices=CannedResponseScope.choices, default=CannedResponseScope.PERSONAL
    )
    department = UUIDField(required=False, allow_null=True)


class CannedResponseUpdateInput(CannedResponseInput):
    title = serializers.CharField(max_length=120, required=False)
    body = serializers.CharField(max_length=50_000, required=False)
    scope = serializers.ChoiceField(choices=CannedResponseScope.choices, required=False)


class CannedResponseListQuery(serializers.Serializer[Any]):
    q = serializers.CharField(required=False, max_length=200)
    scope = serializers.ChoiceField(choices=CannedResponseScope.choices, required=False)


class CannedResponseRenderQuery(serializers.Serializer[Any]):
    ticket = serializers.IntegerField(min_value=1, help_text="Ticket number to fill in.")


class CannedResponseRenderOutput(serializers.Serializer[Any]):
    body = serializers.CharField()


class SlaPolicyOutput(serializers.ModelSerializer[SlaPolicy]):
    department = UUIDField(source="department_id", allow_null=True)
    ticket_type = UUIDField(source="ticket_type_id", allow_null=True)
    business_hours = UUIDField(source="business_hours_id", allow_null=True)

    class Meta:
        model = SlaPolicy
        fields = [
            "id",
            "name",
            "description",
            "position",
            "is_active",
            "priorities",
            "channels",
            "department",
            "ticket_type",
            "business_hours",
            "first_response_minutes",
            "next_response_minutes",
            "resolution_minutes",
            "created_at",
            "updated_at",
        ]


def _target(label: str) -> serializers.IntegerField:
    return serializers.IntegerField(
        min_value=1,
        max_value=366 * 24 * 60,
        required=False,
        allow_null=True,
        help_text=f"{label} target in minutes of business time; null: not measured.",
    )


class SlaPolicyUpdateInput(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=120, required=False)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    position = serializers.IntegerField(min_value=0, max_value=32767, required=False)
    is_active = serializers.BooleanField(required=False)
    priorities = serializers.ListField(
        child=serializers.ChoiceField(choices=TicketPriority.choices),
        required=False,
        help_text="Empty: any priority.",
    )
    channels = serializers.ListField(
        child=serializers.ChoiceField(choices=TicketChannel.choices),
        required=False,
        help_text="Empty: any channel.",
    )
    department = UUIDField(required=False, allow_null=True)
    ticket_type = UUIDField(required=False, allow_null=True)
    business_hours = UUIDField(
        required=False, allow_null=True, help_text="Null: the clock runs around the clock."
    )
    first_response_minutes = _target("First response")
    next_response_minutes = _target("Next response")
    resolution_minutes = _target("Resolution")


class SlaPolicyCreateInput(SlaPolicyUpdateInput):
    name = serializers.CharField(max_length=120)


class SlaTimerOutput(serializers.ModelSerializer[SlaTimer]):
    policy = UUIDField(source="policy_id", allow_null=True)
    state = serializers.SerializerMethodField()

    class Meta:
        model = SlaTimer
        fields = [
            "metric",
            "policy",
            "state",
            "started_at",
            "target_minutes",
            "due_at",
            "remaining_seconds",
            "completed_at",
            "breached_at",
        ]

    @extend_schema_field(
        serializers.ChoiceField(choices=["met", "breached", "overdue", "paused", "running"])
    )
    def get_state(self, timer: SlaTimer) -> str:
        return timer.state(timezone.now())
