"""Ticket configuration API: workspace settings, ticket types, custom statuses, custom fields.

Every member reads (agents need the definitions to fill tickets); only admins write.
Definitions are short lists in their display order, so they are returned whole, unpaginated.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from drf_spectacular.utils import extend_schema
from rest_framework import status as http
from rest_framework.request import Request
from rest_framework.response import Response

from helpdesk.api.permissions import IsTenantAdminOrReadOnly, IsTenantMember
from helpdesk.api.views import TenantAPIView
from tickets.configuration import services as configuration
from tickets.configuration.serializers import (
    ConfigurationListQuery,
    CustomFieldCreateInput,
    CustomFieldListQuery,
    CustomFieldOutput,
    CustomFieldUpdateInput,
    CustomStatusCreateInput,
    CustomStatusOutput,
    CustomStatusUpdateInput,
    TicketTypeCreateInput,
    TicketTypeOutput,
    TicketTypeUpdateInput,
    WorkspaceSettingsOutput,
    WorkspaceSettingsUpdateInput,
)
from tickets.models import CustomFieldTarget, WorkspaceSettings


class ConfigurationAPI(TenantAPIView):
    permission_classes = [IsTenantMember, IsTenantAdminOrReadOnly]
    pagination_class = None  # whole lists, in position order


def _settings_data(settings: WorkspaceSettings) -> dict[str, Any]:
    return {
        "auto_assign_on_open": settings.auto_assign_on_open,
        "priorities": [
            {"value": level.value, "label": level.label}
            for level in configuration.priority_levels(settings)
        ],
        "satisfaction_enabled": settings.satisfaction_enabled,
        "satisfaction_delay_hours": settings.satisfaction_delay_hours,
        "auto_solve_waiting_days": settings.auto_solve_waiting_days,
        "retention_months": settings.retention_months,
        "retention_action": settings.retention_action,
    }


class WorkspaceSettingsAPI(ConfigurationAPI):
    """Open it and you own it, the priority levels in use, satisfaction surveys."""

    @extend_schema(responses=WorkspaceSettingsOutput)
    def get(self, request: Request) -> Response:
        return Response(WorkspaceSettingsOutput(_settings_data(configuration.get_settings())).data)

    @extend_schema(request=WorkspaceSettingsUpdateInput, responses=WorkspaceSettingsOutput)
    def patch(self, request: Request) -> Response:
        data = self.validate(WorkspaceSettingsUpdateInput, request.data, partial=True)
        settings = configuration.update_settings(
            actor=self.membership,
            auto_assign_on_open=data.get("auto_assign_on_open"),
            priorities=data.get("priorities"),
            satisfaction_enabled=data.get("satisfaction_enabled"),
            satisfaction_delay_hours=data.get("satisfaction_delay_hours"),
            auto_solve_waiting_days=data.get("auto_solve_waiting_days"),
            retention_months=data.get("retention_months"),
            retention_action=data.get("retention_action"),
        )
        return Response(WorkspaceSettingsOutput(_settings_data(settings)).data)


class TicketTypeListAPI(ConfigurationAPI):
    @extend_schema(parameters=[ConfigurationListQuery], responses=TicketTypeOutput(many=True))
    def get(self, request: Request) -> Response:
        query = self.validate(ConfigurationListQuery, request.query_params)
        types = configuration.list_ticket_types(active_only=bool(query.get("active")))
        return Response(TicketTypeOutput(types, many=True).data)

    @extend_schema(request=TicketTypeCreateInput, responses={201: TicketTypeOutput})
    def post(self, request: Request) -> Response:
        data = self.validate(TicketTypeCreateInput, request.data)
        ticket_type = configuration.save_ticket_type(actor=self.membership, **data)
        return Response(TicketTypeOutput(ticket_type).data, status=http.HTTP_201_CREATED)


class TicketTypeDetailAPI(ConfigurationAPI):
    @extend_schema(responses=TicketTypeOutput)
    def get(self, request: Request, type_id: UUID) -> Response:
        return Response(TicketTypeOutput(configuration.get_ticket_type(type_id)).data)

    @extend_schema(request=TicketTypeUpdateInput, responses=TicketTypeOutput)
    def patch(self, request: Request, type_id: UUID) -> Response:
        data = self.validate(TicketTypeUpdateInput, request.data, partial=True)
        ticket_type = configuration.get_ticket_type(type_id)
        ticket_type = configuration.save_ticket_type(
            actor=self.membership,
            ticket_type=ticket_type,
            name=data.get("name", ticket_type.name),
            position=data.get("position", ticket_type.position),
            is_active=data.get("is_active", ticket_type.is_active),
        )
        return Response(TicketTypeOutput(ticket_type).data)


class CustomStatusListAPI(ConfigurationAPI):
    @extend_schema(parameters=[ConfigurationListQuery], responses=CustomStatusOutput(many=True))
    def get(self, request: Request) -> Response:
        query = self.validate(ConfigurationListQuery, request.query_params)
        statuses = configuration.list_custom_statuses(active_only=bool(query.get("active")))
        return Response(CustomStatusOutput(statuses, many=True).data)

    @extend_schema(request=CustomStatusCreateInput, responses={201: CustomStatusOutput})
    def post(self, request: Request) -> Response:
        data = self.validate(CustomStatusCreateInput, request.data)
        status = configuration.save_custom_status(actor=self.membership, **data)
        return Response(CustomStatusOutput(status).data, status=http.HTTP_201_CREATED)


class CustomStatusDetailAPI(ConfigurationAPI):
    @extend_schema(responses=CustomStatusOutput)
    def get(self, request: Request, status_id: UUID) -> Response:
        return Response(CustomStatusOutput(configuration.get_custom_status(status_id)).data)

    @extend_schema(request=CustomStatusUpdateInput, responses=CustomStatusOutput)
    def patch(self, request: Request, status_id: UUID) -> Response:
        data = self.validate(CustomStatusUpdateInput, request.data, partial=True)
        status = configuration.get_custom_status(status_id)
        status = configuration.save_custom_status(
            actor=self.membership,
            custom_status=status,
            name=data.get("name", status.name),
            base_status=data.get("base_status", status.base_status),
            position=data.get("position", status.position),
            is_active=data.get("is_active", status.is_active),
        )
        return Response(CustomStatusOutput(status).data)


class CustomFieldListAPI(ConfigurationAPI):
    """Custom field definitions of tickets, contacts and companies."""

    @extend_schema(parameters=[CustomFieldListQuery], responses=CustomFieldOutput(many=True))
    def get(self, request: Request) -> Response:
        query = self.validate(CustomFieldListQuery, request.query_params)
        targets = [query["target"]] if query.get("target") else CustomFieldTarget.values
        active_only = bool(query.get("active"))
        fields = [
            field
            for target in targets
            for field in configuration.list_custom_fields(target, active_only=active_only)
        ]
        return Response(CustomFieldOutput(fields, many=True).data)

    @extend_schema(request=CustomFieldCreateInput, responses={201: CustomFieldOutput})
    def post(self, request: Request) -> Response:
        data = self.validate(CustomFieldCreateInput, request.data)
        field = configuration.save_custom_field(actor=self.membership, **data)
        return Response(CustomFieldOutput(field).data, status=http.HTTP_201_CREATED)


class CustomFieldDetailAPI(ConfigurationAPI):
    @extend_schema(responses=CustomFieldOutput)
    def get(self, request: Request, field_id: UUID) -> Response:
        return Response(CustomFieldOutput(configuration.get_custom_field(field_id)).data)

    @extend_schema(request=CustomFieldUpdateInput, responses=CustomFieldOutput)
    def patch(self, request: Request, field_id: UUID) -> Response:
        data = self.validate(CustomFieldUpdateInput, request.data, partial=True)
        field = configuration.get_custom_field(field_id)
        field = configuration.save_custom_field(
            actor=self.membership,
            field=field,
            target=field.target,
            key=data.get("key", ""),
            type=data.get("type", field.type),
            label=data.get("label", field.label),
            options=data.get("options", field.options),
            is_required=data.get("is_required", field.is_required),
            position=data.get("position", field.position),
            is_active=data.get("is_active", field.is_active),
        )
        return Response(CustomFieldOutput(field).data)
