"""API input and output shapes of bulk actions and saved views."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from helpdesk.api.fields import UUIDField


class BulkActionInput(serializers.Serializer[Any]):
    tickets = serializers.ListField(
        child=serializers.IntegerField(min_value=1), min_length=1, max_length=500
    )
    action = serializers.ChoiceField(
        choices=["assign", "status", "priority", "department", "tag", "merge", "spam", "not_spam"]
    )
    value = serializers.CharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        help_text="assign: member id, `me` or empty; status, priority, tag: the value;"
        " department: its id. merge: every ticket goes into the first.",
    )


class BulkActionOutput(serializers.Serializer[Any]):
    done = serializers.ListField(child=serializers.IntegerField())
    failed = serializers.ListField(child=serializers.DictField())


class SavedViewInput(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=80)
    filters = serializers.DictField(
        child=serializers.CharField(allow_blank=True), required=False, default=dict
    )
    sort = serializers.CharField(required=False, default="-updated")
    is_shared = serializers.BooleanField(required=False, default=False)


class SavedViewOutput(serializers.Serializer[Any]):
    id = UUIDField()
    name = serializers.CharField()
    filters = serializers.DictField()
    sort = serializers.CharField()
    is_shared = serializers.BooleanField()
    owner = UUIDField(source="owner_id")
