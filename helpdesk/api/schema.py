"""OpenAPI: every operation also documents the error envelope it may answer with."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from rest_framework import serializers


class ErrorBody(serializers.Serializer[Any]):
    code = serializers.CharField(help_text="Stable snake_case code, e.g. ticket_closed.")
    message = serializers.CharField(help_text="What went wrong, worded for a person.")
    # The envelope's key is "fields", which shadows Serializer.fields on this one class.
    fields = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Invalid input: messages by field name.",
    )


class ErrorOutput(serializers.Serializer[Any]):
    error = ErrorBody()


ERRORS = {
    "400": "Invalid input (see fields), or a request that cannot be read.",
    "401": "No valid API token (or one of another tenant).",
    "403": "Your role does not allow this.",
    "404": "Not found here, or another tenant's.",
    "409": "Not allowed in the current state.",
    "429": "Too many requests: wait for Retry-After seconds.",
}


class AutoSchema(SpectacularAutoSchema):
    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        if not self.path.startswith("/api/v1/"):
            return responses
        for code, description in ERRORS.items():
            if code not in responses:
                response = self._get_response_for_code(  # type: ignore[no-untyped-call]
                    ErrorOutput, code, direction=direction
                )
                response["description"] = description
                responses[code] = response
        return responses
