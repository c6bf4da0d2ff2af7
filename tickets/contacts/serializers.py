"""API shapes for contacts and companies. Serializers check shape; tickets.contacts checks
rules (unique email and name, domains, custom field values)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from helpdesk.api.fields import UUIDField
from tickets.models import Company, Contact

MAX_CUSTOM_VALUES = 100


@extend_schema_field(
    {
        "oneOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}],
        "nullable": True,
        "description": "Text, number, option, YYYY-MM-DD date or yes/no; null or empty clears.",
    }
)
class CustomFieldValue(serializers.Field[Any, Any, Any, Any]):
    """One custom field value as sent: a string, number, boolean or null (never a list or
    an object; the field's type is checked by configuration.clean_custom_values)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(allow_null=True, **kwargs)

    def to_internal_value(self, data: Any) -> Any:
        if data is None or isinstance(data, str | int | float | bool):
            if isinstance(data, str) and len(data) > 1000:
                raise serializers.ValidationError("At most 1000 characters.")
            return data
        raise serializers.ValidationError("A string, number, boolean or null.")

    def to_representation(self, value: Any) -> Any:
        return value


def _check_custom_values(values: dict[str, Any]) -> dict[str, Any]:
    if len(values) > MAX_CUSTOM_VALUES:
        raise serializers.ValidationError(f"At most {MAX_CUSTOM_VALUES} fields.")
    return values


class ContactCompanyOutput(serializers.ModelSerializer[Company]):
    class Meta:
        model = Company
        fields = ["id", "name"]


class ContactOutput(serializers.ModelSerializer[Contact]):
    company = ContactCompanyOutput(allow_null=True)
    custom_fields = serializers.DictField(child=CustomFieldValue())
    merged_into = UUIDField(
        source="merged_into_id",
        allow_null=True,
        help_text="Set on a duplicate merged into another contact: that contact's id.",
    )

    class Meta:
        model = Contact
        fields = [
            "id",
            "email",
            "name",
            "phone",
            "notes",
            "company",
            "custom_fields",
            "merged_into",
            "email_bounced_at",
            "created_at",
            "updated_at",
        ]


class ContactListQuery(serializers.Serializer[Any]):
    q = serializers.CharField(
        required=False, max_length=200, help_text="Part of the name, email or company name."
    )


class ContactUpdateInput(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    email = serializers.CharField(max_length=254, required=False)
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True)
    notes = serializers.CharField(max_length=20_000, required=False, allow_blank=True)
    company = UUIDField(
        required=False, allow_null=True, help_text="Company id; null removes the company."
    )
    custom_fields = serializers.DictField(
        child=CustomFieldValue(),
        required=False,
        help_text="Values by field key; keys not sent keep their value, null or empty clears.",
    )

    def validate_custom_fields(self, value: dict[str, Any]) -> dict[str, Any]:
        return _check_custom_values(value)


class ContactMergeInput(serializers.Serializer[Any]):
    duplicate = UUIDField(
        help_text="The duplicate contact; its tickets, follows and messages move to this one."
    )


class CompanyOutput(serializers.ModelSerializer[Company]):
    domains = serializers.ListField(child=serializers.CharField())
    custom_fields = serializers.DictField(child=CustomFieldValue())

    class Meta:
        model = Company
        fields = ["id", "name", "domains", "notes", "custom_fields", "created_at", "updated_at"]


class CompanyListQuery(serializers.Serializer[Any]):
    q = serializers.CharField(
        required=False, max_length=200, help_text="Part of the name or a domain."
    )


class CompanyCreateInput(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=200)
    domains = serializers.ListField(
        child=serializers.CharField(max_length=253), required=False, max_length=50
    )
    notes = serializers.CharField(max_length=20_000, required=False, allow_blank=True)
    custom_fields = serializers.DictField(child=CustomFieldValue(), required=False)

    def validate_custom_fields(self, value: dict[str, Any]) -> dict[str, Any]:
        return _check_custom_values(value)


class CompanyUpdateInput(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=200, required=False)
    domains = serializers.ListField(
        child=serializers.CharField(max_length=253),
        required=False,
        max_length=50,
        help_text="Replaces the list.",
    )
    notes = serializers.CharField(max_length=20_000, required=False, allow_blank=True)
    custom_fields = serializers.DictField(
        child=CustomFieldValue(),
        required=False,
        help_text="Values by field key; keys not sent keep their value, null or empty clears.",
    )

    def validate_custom_fields(self, value: dict[str, Any]) -> dict[str, Any]:
        return _check_custom_values(value)


class ContactErasedOutput(serializers.Serializer[Any]):
    contacts = serializers.IntegerField(help_text="The contact and its merged duplicates.")
    tickets = serializers.IntegerField(help_text="Their tickets, kept as anonymous records.")
    messages = serializers.IntegerField(help_text="Messages whose text was removed.")
    attachments = serializers.IntegerField(help_text="Attachments deleted.")
    audit_entries = serializers.IntegerField(
        help_text='Audit log entries that named them, now naming "erased contact #<id>".'
    )
