"""The audit log for admins: the API (/api/v1/audit-log/) and the page
(/accounts/audit-log/), read-only, filtered by actor, action and dates (in the help
desk's time zone), newest first. Entries are written by the services that change things
(helpdesk.tenancy.audit)."""

from __future__ import annotations

import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from django.http import HttpResponse
from django.shortcuts import render
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from helpdesk.api.permissions import IsTenantAdmin
from helpdesk.api.views import TenantAPIView
from helpdesk.tenancy import audit
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.decorators import member_required
from helpdesk.tenancy.http import MemberHttpRequest
from helpdesk.tenancy.models import AuditAction, AuditEvent
from helpdesk.tenancy.permissions import Capability

PAGE_SIZE = 50
ACTION_CHOICES = [*AuditAction.values, *audit.action_families()]


class AuditLogQuery(serializers.Serializer[Any]):
    actor = serializers.UUIDField(required=False, help_text="A member id.")
    action = serializers.ChoiceField(
        choices=ACTION_CHOICES,
        required=False,
        help_text="An action (`webhook.created`) or a family of them (`webhook`).",
    )
    since = serializers.DateField(required=False, help_text="From this day (inclusive).")
    until = serializers.DateField(required=False, help_text="To this day (inclusive).")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        since, until = attrs.get("since"), attrs.get("until")
        if since and until and since > until:
            raise serializers.ValidationError({"until": ["The end is before the start."]})
        return attrs


class AuditActorOutput(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    email = serializers.CharField()


class AuditEventOutput(serializers.ModelSerializer[AuditEvent]):
    actor = serializers.SerializerMethodField()

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "created_at",
            "action",
            "actor",
            "actor_email",
            "ip_address",
            "target_type",
            "target_id",
            "target_label",
            "details",
        ]

    @extend_schema_field(AuditActorOutput(allow_null=True))
    def get_actor(self, event: AuditEvent) -> dict[str, str] | None:
        if event.actor_id is None:
            return None
        return {"id": str(event.actor_id), "email": event.actor_email}


def _bounds(
    since: datetime.date | None, until: datetime.date | None, zone: str
) -> tuple[datetime.datetime | None, datetime.datetime | None]:
    """The days as instants: midnight in the help desk's zone, `until` up to its end."""
    tz = ZoneInfo(zone or "UTC")
    start = datetime.datetime.combine(since, datetime.time(), tz) if since else None
    end = (
        datetime.datetime.combine(until + datetime.timedelta(days=1), datetime.time(), tz)
        if until
        else None
    )
    return start, end


def _events(query: dict[str, Any], zone: str) -> Any:
    start, end = _bounds(query.get("since"), query.get("until"), zone)
    return audit.list_audit_events(
        actor_id=query.get("actor"), action=query.get("action") or "", since=start, until=end
    )


class AuditLogAPI(TenantAPIView):
    permission_classes = [IsTenantAdmin]

    @extend_schema(parameters=[AuditLogQuery], responses=AuditEventOutput(many=True))
    def get(self, request: Request) -> Response:
        """Who did what to configuration, members, tokens and personal data, and every
        sign-in (failures too), with the address it came from; newest first."""
        query = self.validate(AuditLogQuery, request.query_params)
        return self.paginate(request, _events(query, _zone(request)), AuditEventOutput)


def _zone(request: Any) -> str:
    tenant = getattr(request, "tenant", None)
    return str(getattr(tenant, "time_zone", "") or "UTC")


def _show(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(_show(item) for item in value)
    if isinstance(value, dict):
        return " → ".join(_show(item) for item in value.values())
    return str(value)


def _detail_text(details: dict[str, Any]) -> str:
    """The entry's details in words: `role: agent → admin · events: ticket.created`."""
    return " · ".join(f"{key}: {_show(value)}" for key, value in details.items())


@member_required(may=Capability.MANAGE_SETTINGS)
def audit_log(request: MemberHttpRequest) -> HttpResponse:
    """Admin: the audit log, filtered; `before` pages to older entries."""
    query_form = AuditLogQuery(data={k: v for k, v in request.GET.items() if v})
    valid = query_form.is_valid()
    query = query_form.validated_data if valid else {}
    events = _events(query, _zone(request))
    before = request.GET.get("before", "")
    try:
        if before:
            events = events.filter(id__lt=UUID(before))
    except ValueError:
        valid = False
    rows = list(events[: PAGE_SIZE + 1])
    older = rows[PAGE_SIZE].id if len(rows) > PAGE_SIZE else None
    rows = rows[:PAGE_SIZE]
    for event in rows:
        event.detail_text = _detail_text(event.details)
    filters = {k: v for k, v in request.GET.items() if k != "before" and v}
    return render(
        request,
        "accounts/audit_log.html",
        {
            "events": rows,
            "older": rows[-1].id if older else None,
            "filters": filters,
            "errors": {} if valid else (query_form.errors or {"before": ["Not a valid entry."]}),
            "members": list(tenancy_selectors.list_members()),
            "actions": AuditAction.choices,
            "families": audit.action_families(),
        },
        status=200 if valid else 400,
    )
