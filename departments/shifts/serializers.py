"""API shapes of shifts and leave (names unique in the project: OpenAPI components)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from departments.models import ShiftLeave
from departments.serializers import BusinessHoursIntervalData
from departments.shifts.services import MAX_PERIODS, REASON_LENGTH


class AgentShiftInput(serializers.Serializer[Any]):
    timezone = serializers.CharField(
        max_length=64, help_text="IANA time zone the hours are in, e.g. Europe/Berlin."
    )
    # many=True makes this a ListSerializer, which takes max_length; the stubs do not know.
    intervals = BusinessHoursIntervalData(many=True, max_length=MAX_PERIODS)  # type: ignore[call-arg]


class AgentShiftOutput(serializers.Serializer[Any]):
    member = serializers.UUIDField(source="membership_id")
    timezone = serializers.CharField()
    intervals = BusinessHoursIntervalData(many=True)
    on_shift = serializers.BooleanField(
        help_text="Whether the member is on shift now (inside these hours and not on leave)."
    )
    shift_ends_at = serializers.DateTimeField(
        allow_null=True, help_text="When the stretch on shift now ends (null: off shift)."
    )
    next_shift_at = serializers.DateTimeField(
        allow_null=True, help_text="When the next period begins, if off shift now."
    )
    updated_at = serializers.DateTimeField()


class ShiftLeaveInput(serializers.Serializer[Any]):
    starts_on = serializers.DateField(help_text="First day off (the member's shift time zone).")
    ends_on = serializers.DateField(help_text="Last day off, included.")
    reason = serializers.CharField(
        max_length=REASON_LENGTH, required=False, allow_blank=True, default=""
    )


class ShiftLeaveOutput(serializers.ModelSerializer[ShiftLeave]):
    member = serializers.UUIDField(source="membership_id")

    class Meta:
        model = ShiftLeave
        fields = ["id", "member", "starts_on", "ends_on", "reason", "created_at"]
