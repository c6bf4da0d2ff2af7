"""API shapes of email templates."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from helpdesk.api.fields import UUIDField
from tickets.models import (
    EmailTemplateKind,
)


class EmailTemplateOutput(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=EmailTemplateKind.choices)
    department = UUIDField(allow_null=True)
    custom = serializers.BooleanField(help_text="False: the inherited wording is shown.")
    subject = serializers.CharField(allow_blank=True)
    body = serializers.CharField(allow_blank=True)
    header = serializers.CharField(allow_blank=True)
    footer = serializers.CharField(allow_blank=True)


class EmailTemplateInput(serializers.Serializer[Any]):
    subject = serializers.CharField(max_length=250, required=False, allow_blank=True)
    body = serializers.CharField(max_length=20_000, required=False, allow_blank=True)
    header = serializers.CharField(max_length=5_000, required=False, allow_blank=True)
    footer = serializers.CharField(max_length=5_000, required=False, allow_blank=True)


class EmailTemplateQuery(serializers.Serializer[Any]):
    department = UUIDField(required=False, help_text="A department's override.")


class EmailTemplatePreviewOutput(serializers.Serializer[Any]):
    subject = serializers.CharField(allow_blank=True)
    body = serializers.CharField(allow_blank=True)
    header = serializers.CharField(allow_blank=True)
    footer = serializers.CharField(allow_blank=True)
