"""API shapes for ticket configuration: workspace settings, ticket types, custom statuses and
custom fields. Serializers check shape; tickets.configuration checks the rules."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from tickets.configuration.services import (
    MAX_AUTO_SOLVE_DAYS,
    MAX_POSITION,
    MAX_RETENTION_MONTHS,
    MAX_SURVEY_DELAY_HOURS,
)
from tickets.models import (
    CustomField,
    CustomFieldTarget,
    CustomFieldType,
    CustomStatus,
    TicketPriority,
    TicketStatus,
    TicketType,
    WorkspaceSettingsRetentionAction,
)


class PriorityLevelOutput(serializers.Serializer[Any]):
    value = serializers.ChoiceField(choices=TicketPriority.choices)
    label = serializers.CharField()  # type: ignore[assignment]


class PriorityLevelInput(serializers.Serializer[Any]):
    value = serializers.ChoiceField(choices=TicketPriority.choices)
    label = serializers.CharField(  # type: ignore[assignment]
        max_length=40, required=False, allow_blank=True, help_text="Blank: the level's name."
    )


class WorkspaceSettingsOutput(serializers.Serializer[Any]):
    auto_assign_on_open = serializers.BooleanField(
        help_text="Open it and you own it: opening an unassigned ticket assigns it to the agent."
    )
    priorities = PriorityLevelOutput(many=True, help_text="The levels in use, lowest first.")
    satisfaction_enabled = serializers.BooleanField(
        help_text="Solved tickets get a satisfaction survey by email."
    )
    satisfaction_delay_hours = serializers.IntegerField(
        help_text="Hours after solving before the survey goes out (0: at once)."
    )
    auto_solve_waiting_days = serializers.IntegerField(
        help_text="Tickets waiting on the customer this many days since the last message are "
        "solved, and the customer told (0: never)."
    )
    retention_months = serializers.IntegerField(
        help_text="Solved tickets older than this many months are anonymized or deleted "
        "nightly (0: kept for ever)."
    )
    retention_action = serializers.ChoiceField(
        choices=WorkspaceSettingsRetentionAction.choices,
        help_text="anonymize: contents erased, anonymous records kept; delete: removed.",
    )


class WorkspaceSettingsUpdateInput(serializers.Serializer[Any]):
    auto_assign_on_open = serializers.BooleanField(required=False)
    priorities = PriorityLevelInput(
        many=True,
        required=False,
        help_text="3 to 5 levels of the scale low, normal, high, urgent, critical; "
        "normal among them.",
    )
    satisfaction_enabled = serializers.BooleanField(required=False)
    satisfaction_delay_hours = serializers.IntegerField(
        required=False, min_value=0, max_value=MAX_SURVEY_DELAY_HOURS
    )
    auto_solve_waiting_days = serializers.IntegerField(
        required=False, min_value=0, max_value=MAX_AUTO_SOLVE_DAYS
    )
    retention_months = serializers.IntegerField(
        required=False, min_value=0, max_value=MAX_RETENTION_MONTHS
    )
    retention_action = serializers.ChoiceField(
        required=False, choices=WorkspaceSettingsRetentionAction.choices
    )


class ConfigurationListQuery(serializers.Serializer[Any]):
    active = serializers.BooleanField(
        required=False, help_text="true: active ones only; omitted: all."
    )


class TicketTypeOutput(serializers.ModelSerializer[TicketType]):
    class Meta:
        model = TicketType
        fields = ["id", "name", "position", "is_active", "created_at", "updated_at"]


class TicketTypeCreateInput(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=60)
    position = serializers.IntegerField(min_value=0, max_value=MAX_POSITION, default=0)
    is_active = serializers.BooleanField(default=True)


class TicketTypeUpdateInput(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=60, required=False)
    position = serializers.IntegerField(min_value=0, max_value=MAX_POSITION, required=False)
    is_active = serializers.BooleanField(required=False)


class CustomStatusOutput(serializers.ModelSerializer[CustomStatus]):
    class Meta:
        model = CustomStatus
        fields = ["id", "name", "base_status", "position", "is_active", "created_at", "updated_at"]


class CustomStatusCreateInput(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=60)
    base_status = serializers.ChoiceField(
        choices=TicketStatus.choices, help_text="The built-in status it maps onto."
    )
    position = serializers.IntegerField(min_value=0, max_value=MAX_POSITION, default=0)
    is_active = serializers.BooleanField(default=True)


class CustomStatusUpdateInput(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=60, required=False)
    base_status = serializers.ChoiceField(choices=TicketStatus.choices, required=False)
    position = serializers.IntegerField(min_value=0, max_value=MAX_POSITION, required=False)
    is_active = serializers.BooleanField(required=False)


class CustomFieldOutput(serializers.ModelSerializer[CustomField]):
    class Meta:
        model = CustomField
        fields = [
            "id",
            "target",
            "key",
            "label",
            "type",
            "options",
            "is_required",
            "position",
            "is_active",
            "created_at",
            "updated_at",
        ]


class CustomFieldListQuery(ConfigurationListQuery):
    target = serializers.ChoiceField(
        choices=CustomFieldTarget.choices, required=False, help_text="Omitted: every target."
    )


class CustomFieldCreateInput(serializers.Serializer[Any]):
    target = serializers.ChoiceField(choices=CustomFieldTarget.choices)
    label = serializers.CharField(max_length=80)  # type: ignore[assignment]
    key = serializers.CharField(
        max_length=40,
        required=False,
        allow_blank=True,
        help_text="Stable name in the API and filters; made from the label when omitted. "
        "Fixed once created.",
    )
    type = serializers.ChoiceField(choices=CustomFieldType.choices, help_text="Fixed once created.")
    options = serializers.ListField(
        child=serializers.CharField(max_length=100),
        required=False,
        help_text="The choices of a select field.",
    )
    is_required = serializers.BooleanField(default=False)
    position = serializers.IntegerField(min_value=0, max_value=MAX_POSITION, default=0)
    is_active = serializers.BooleanField(default=True)


class CustomFieldUpdateInput(serializers.Serializer[Any]):
    label = serializers.CharField(max_length=80, required=False)  # type: ignore[assignment]
    key = serializers.CharField(
        max_length=40, required=False, help_text="Fixed: only the current key is accepted."
    )
    type = serializers.ChoiceField(
        choices=CustomFieldType.choices,
        required=False,
        help_text="Fixed: only the current type is accepted.",
    )
    options = serializers.ListField(child=serializers.CharField(max_length=100), required=False)
    is_required = serializers.BooleanField(required=False)
    position = serializers.IntegerField(min_value=0, max_value=MAX_POSITION, required=False)
    is_active = serializers.BooleanField(required=False)
