"""API shapes for canned responses."""

from __future__ import annotations

from rest_framework import serializers

from automation.models import CannedResponse, CannedResponseScope


class CannedResponseOutput(serializers.ModelSerializer):
    department = serializers.UUIDField(source="department_id", allow_null=True)
    owner = serializers.UUIDField(source="owner_id", allow_null=True)

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


class CannedResponseInput(serializers.Serializer):
    title = serializers.CharField(max_length=120)
    body = serializers.CharField(max_length=50_000)
    scope = serializers.ChoiceField(
        choices=CannedResponseScope.choices, default=CannedResponseScope.PERSONAL
    )
    department = serializers.UUIDField(required=False, allow_null=True)


class CannedResponseUpdateInput(CannedResponseInput):
    title = serializers.CharField(max_length=120, required=False)
    body = serializers.CharField(max_length=50_000, required=False)
    scope = serializers.ChoiceField(choices=CannedResponseScope.choices, required=False)


class CannedResponseListQuery(serializers.Serializer):
    q = serializers.CharField(required=False, max_length=200)
    scope = serializers.ChoiceField(choices=CannedResponseScope.choices, required=False)


class CannedResponseRenderQuery(serializers.Serializer):
    ticket = serializers.IntegerField(min_value=1, help_text="Ticket number to fill in.")


class CannedResponseRenderOutput(serializers.Serializer):
    body = serializers.CharField()
