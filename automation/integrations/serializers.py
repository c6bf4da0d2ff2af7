"""API shapes of integrations (/api/v1/external-task-integrations/…, /api/v1/contact-apps/…,
/api/v1/tickets/<number>/external-tasks/…, /api/v1/tickets/<number>/apps/<id>/). Secrets
are write-only: the output says whether one is stored (`has_secret`), never what it is.
Templates, hosts and ranges are checked by the services (400 with the reason)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from automation.integrations import templating
from automation.models import ContactApp, ExternalTask, ExternalTaskIntegration, IntegrationMethod

TICKET_PLACEHOLDERS_HELP = "Placeholders: " + ", ".join(
    f"`{{{{{name}}}}}`" for name in templating.TICKET_PLACEHOLDERS
)
CONTACT_PLACEHOLDERS_HELP = "Placeholders: " + ", ".join(
    f"`{{{{{name}}}}}`" for name in templating.CONTACT_PLACEHOLDERS
)
WRITE_ONLY_HELP = (
    "Write-only: stored encrypted, never returned. On PATCH, leave it out to keep the stored"
    " one, send an empty string to remove it."
)
PATH_HELP = "A dotted path (`data.html_url`, `items.0.key`) or a JSON pointer (`/data/html_url`)."


class _Headers(serializers.DictField):
    child = serializers.CharField(max_length=2000, allow_blank=True)


class ExternalTaskIntegrationCreateInput(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100)
    method = serializers.ChoiceField(choices=IntegrationMethod.choices, default="post")
    url_template = serializers.CharField(
        max_length=2000, help_text="An http(s) URL on a public host. " + TICKET_PLACEHOLDERS_HELP
    )
    headers = _Headers(required=False, help_text="Header name → value template (not secret).")
    secret_header_name = serializers.CharField(
        max_length=100, required=False, allow_blank=True, help_text="Authorization, for one."
    )
    secret_header_value = serializers.CharField(
        max_length=4000,
        required=False,
        allow_blank=True,
        write_only=True,
        help_text=WRITE_ONLY_HELP,
    )
    body_template = serializers.CharField(
        max_length=20000,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text="JSON with placeholders inside strings (values are JSON-escaped). "
        + TICKET_PLACEHOLDERS_HELP,
    )
    id_path = serializers.CharField(
        max_length=200, required=False, allow_blank=True, help_text=PATH_HELP
    )
    link_path = serializers.CharField(
        max_length=200, required=False, allow_blank=True, help_text=PATH_HELP
    )
    link_template = serializers.CharField(
        max_length=2000,
        required=False,
        allow_blank=True,
        help_text="The link made from the id: `https://acme.atlassian.net/browse/{{id}}`.",
    )
    is_active = serializers.BooleanField(required=False, default=True)


class ExternalTaskIntegrationUpdateInput(ExternalTaskIntegrationCreateInput):
    name = serializers.CharField(max_length=100, required=False)
    method = serializers.ChoiceField(choices=IntegrationMethod.choices, required=False)
    url_template = serializers.CharField(max_length=2000, required=False)
    secret_header_value = serializers.CharField(
        max_length=4000,
        required=False,
        allow_blank=True,
        write_only=True,
        allow_null=True,
        help_text=WRITE_ONLY_HELP,
    )
    is_active = serializers.BooleanField(required=False)


class ExternalTaskIntegrationOutput(serializers.ModelSerializer[ExternalTaskIntegration]):
    headers = serializers.DictField(source="headers_template", child=serializers.CharField())
    has_secret = serializers.BooleanField(read_only=True)

    class Meta:
        model = ExternalTaskIntegration
        fields = [
            "id",
            "name",
            "method",
            "url_template",
            "headers",
            "secret_header_name",
            "has_secret",
            "body_template",
            "id_path",
            "link_path",
            "link_template",
            "is_active",
            "created_at",
            "updated_at",
        ]


class ContactAppFieldItem(serializers.Serializer[Any]):
    path = serializers.CharField(max_length=200, help_text=PATH_HELP)
    name = serializers.CharField(
        max_length=100, required=False, allow_blank=True, help_text="The label shown."
    )


class ContactAppCreateInput(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100)
    url_template = serializers.CharField(
        max_length=2000,
        help_text="An http(s) URL on a public host, asked with GET. " + CONTACT_PLACEHOLDERS_HELP,
    )
    headers = _Headers(required=False, help_text="Header name → value template (not secret).")
    secret_header_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    secret_header_value = serializers.CharField(
        max_length=4000,
        required=False,
        allow_blank=True,
        write_only=True,
        help_text=WRITE_ONLY_HELP,
    )
    cache_seconds = serializers.IntegerField(required=False, default=300, help_text="60 to 86400.")
    timeout_seconds = serializers.IntegerField(required=False, default=3, help_text="1 to 5.")
    show_fields = ContactAppFieldItem(
        many=True,
        required=False,
        help_text="What to show, in order; empty: every top-level key of the answer.",
    )
    is_active = serializers.BooleanField(required=False, default=True)


class ContactAppUpdateInput(ContactAppCreateInput):
    name = serializers.CharField(max_length=100, required=False)
    url_template = serializers.CharField(max_length=2000, required=False)
    secret_header_value = serializers.CharField(
        max_length=4000,
        required=False,
        allow_blank=True,
        allow_null=True,
        write_only=True,
        help_text=WRITE_ONLY_HELP,
    )
    cache_seconds = serializers.IntegerField(required=False)
    timeout_seconds = serializers.IntegerField(required=False)
    is_active = serializers.BooleanField(required=False)


class ContactAppOutput(serializers.ModelSerializer[ContactApp]):
    headers = serializers.DictField(source="headers_template", child=serializers.CharField())
    has_secret = serializers.BooleanField(read_only=True)
    show_fields = serializers.SerializerMethodField(method_name="list_fields")

    class Meta:
        model = ContactApp
        fields = [
            "id",
            "name",
            "url_template",
            "headers",
            "secret_header_name",
            "has_secret",
            "cache_seconds",
            "timeout_seconds",
            "show_fields",
            "is_active",
            "created_at",
            "updated_at",
        ]

    @extend_schema_field(ContactAppFieldItem(many=True))
    def list_fields(self, app: ContactApp) -> list[dict[str, str]]:
        return [{"path": path, "name": label} for path, label in app.fields]


class ExternalTaskCreateInput(serializers.Serializer[Any]):
    integration = serializers.UUIDField(help_text="The id of an active task integration.")


class ExternalTaskOutput(serializers.ModelSerializer[ExternalTask]):
    integration = serializers.UUIDField(source="integration_id", allow_null=True)
    created_by = serializers.UUIDField(source="created_by_id", allow_null=True)

    class Meta:
        model = ExternalTask
        fields = [
            "id",
            "integration",
            "integration_name",
            "status",
            "external_id",
            "url",
            "title",
            "error",
            "response_status",
            "attempts",
            "created_by",
            "created_at",
            "finished_at",
        ]


class IntegrationTestOutput(serializers.Serializer[Any]):
    status = serializers.IntegerField(allow_null=True, help_text="The HTTP status, if any.")
    milliseconds = serializers.IntegerField()
    error = serializers.CharField(help_text="Empty when it worked.")
    excerpt = serializers.CharField(help_text="The start of the answer.")
    external_id = serializers.CharField()
    url = serializers.CharField(help_text="The created item's link found in the answer.")
    values = serializers.ListField(
        source="rows",
        child=serializers.ListField(child=serializers.CharField(), min_length=2, max_length=2),
        help_text="A contact app's [label, value] pairs.",
    )


class ContactAppTestInput(serializers.Serializer[Any]):
    contact_email = serializers.CharField(max_length=254, required=False, allow_blank=True)


class ContactAppDataField(serializers.Serializer[Any]):
    name = serializers.CharField(help_text="The field's label (or the key).")
    value = serializers.CharField()


class ContactAppDataOutput(serializers.Serializer[Any]):
    app = serializers.CharField(source="app_id")
    name = serializers.CharField()
    state = serializers.ChoiceField(choices=["ok", "not_found", "error"])
    values = ContactAppDataField(many=True, source="field_list")
    error = serializers.CharField()
    fetched_at = serializers.DateTimeField(allow_null=True)
    stale = serializers.BooleanField(help_text="true: an older answer, as a refresh failed.")
    cached = serializers.BooleanField()
