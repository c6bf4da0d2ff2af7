"""Serializer fields with stricter input than DRF's."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


class UUIDField(serializers.UUIDField):
    """An id as a string. DRF's also takes an integer (as UUID(int=…)) or a boolean, so a
    wrong type came back as a 404 for an id nobody has, not as a 400 for the field."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            self.fail("invalid", value=data)
        return super().to_internal_value(data)
