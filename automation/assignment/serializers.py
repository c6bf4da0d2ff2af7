"""API shapes of a department's assignment state (its settings are on the department)."""

from __future__ import annotations

from rest_framework import serializers

from automation.assignment.selectors import AgentLoad, DepartmentLoad
from departments.models import AssignmentMode


class AgentLoadOutput(serializers.Serializer[AgentLoad]):
    member = serializers.UUIDField(source="membership.id")
    name = serializers.CharField(source="membership.user.display_name")
    open_tickets = serializers.IntegerField(
        source="open_count", help_text="Unsolved tickets of the department the agent has."
    )
    eligible = serializers.BooleanField(
        help_text="Automatic assignment would give the agent a ticket now."
    )
    reason = serializers.CharField(
        help_text="Why not: deactivated, cannot take tickets, off shift, away, offline, "
        "at the limit; empty when eligible."
    )


class DepartmentAssignmentOutput(serializers.Serializer[DepartmentLoad]):
    department = serializers.UUIDField(source="department.id")
    assignment_mode = serializers.ChoiceField(
        source="department.assignment_mode", choices=AssignmentMode.choices
    )
    max_open_per_agent = serializers.IntegerField(
        source="department.max_open_per_agent", allow_null=True
    )
    backlog = serializers.IntegerField(
        help_text="Unsolved tickets of the department nobody has (not spam)."
    )
    agents = AgentLoadOutput(many=True, help_text="Every agent seated in the department.")
