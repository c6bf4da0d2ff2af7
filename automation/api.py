"""Automation API: canned responses (/api/v1/canned-responses/ …/<id>/ and …/<id>/render/),
SLA policies (/api/v1/sla-policies/ …/<id>/) and a ticket's timers
(/api/v1/tickets/<number>/sla/)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from drf_spectacular.utils import extend_schema
from rest_framework import status as http
from rest_framework.request import Request
from rest_framework.response import Response

from automation import selectors, services
from automation.serializers import (
    CannedResponseInput,
    CannedResponseListQuery,
    CannedResponseOutput,
    CannedResponseRenderOutput,
    CannedResponseRenderQuery,
    CannedResponseUpdateInput,
    SlaPolicyCreateInput,
    SlaPolicyOutput,
    SlaPolicyUpdateInput,
    SlaTimerOutput,
)
from departments import selectors as department_selectors
from helpdesk.api.permissions import IsTenantAdmin, IsTenantMember
from helpdesk.api.views import TenantAPIView
from helpdesk.tenancy.http import MemberRequest
from tickets.configuration import services as configuration
from tickets.ticket import selectors as ticket_selectors


def _resolve(data: dict[str, Any]) -> dict[str, Any]:
    if data.get("department"):
        data["department"] = department_selectors.get_department(data["department"])
    return data


class CannedResponseListAPI(TenantAPIView):
    @extend_schema(parameters=[CannedResponseListQuery], responses=CannedResponseOutput(many=True))
    def get(self, request: Request) -> Response:
        query = self.validate(CannedResponseListQuery, request.query_params)
        responses = selectors.list_canned_responses(
            member=self.membership, query=query.get("q", ""), scope=query.get("scope")
        )
        return self.paginate(request, responses, CannedResponseOutput)

    @extend_schema(request=CannedResponseInput, responses={201: CannedResponseOutput})
    def post(self, request: Request) -> Response:
        data = _resolve(dict(self.validate(CannedResponseInput, request.data)))
        response = services.create_canned_response(actor=self.membership, **data)
        return Response(CannedResponseOutput(response).data, status=http.HTTP_201_CREATED)


class CannedResponseDetailAPI(TenantAPIView):
    def _get(self, response_id: UUID) -> Any:
        return selectors.get_canned_response(member=self.membership, response_id=response_id)

    @extend_schema(responses=CannedResponseOutput)
    def get(self, request: Request, response_id: UUID) -> Response:
        return Response(CannedResponseOutput(self._get(response_id)).data)

    @extend_schema(request=CannedResponseUpdateInput, responses=CannedResponseOutput)
    def patch(self, request: Request, response_id: UUID) -> Response:
        data = _resolve(dict(self.validate(CannedResponseUpdateInput, request.data)))
        response = services.update_canned_response(
            response=self._get(response_id), actor=self.membership, **data
        )
        return Response(CannedResponseOutput(response).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, response_id: UUID) -> Response:
        services.delete_canned_response(response=self._get(response_id), actor=self.membership)
        return Response(status=http.HTTP_204_NO_CONTENT)


class CannedResponseRenderAPI(TenantAPIView):
    @extend_schema(parameters=[CannedResponseRenderQuery], responses=CannedResponseRenderOutput)
    def get(self, request: MemberRequest, response_id: UUID) -> Response:
        query = self.validate(CannedResponseRenderQuery, request.query_params)
        body = services.render_canned_response(
            response=selectors.get_canned_response(member=self.membership, response_id=response_id),
            ticket=ticket_selectors.get_ticket_by_number(query["ticket"]),
            agent=self.membership,
            tenant_name=request.tenant.name,
        )
        return Response({"body": body})


def _resolve_policy(data: dict[str, Any]) -> dict[str, Any]:
    for field, get in (
        ("department", department_selectors.get_department),
        ("ticket_type", configuration.get_ticket_type),
        ("business_hours", department_selectors.get_business_hours),
    ):
        if data.get(field):
            data[field] = get(data[field])
    return data


class SlaPolicyListAPI(TenantAPIView):
    permission_classes = [IsTenantMember, IsTenantAdmin]

    @extend_schema(responses=SlaPolicyOutput(many=True))
    def get(self, request: Request) -> Response:
        """The SLA policies in matching order (the first one a ticket meets applies)."""
        return self.paginate(request, selectors.list_sla_policies(), SlaPolicyOutput)

    @extend_schema(request=SlaPolicyCreateInput, responses={201: SlaPolicyOutput})
    def post(self, request: Request) -> Response:
        data = _resolve_policy(dict(self.validate(SlaPolicyCreateInput, request.data)))
        policy = services.save_sla_policy(actor=self.membership, **data)
        return Response(SlaPolicyOutput(policy).data, status=http.HTTP_201_CREATED)


class SlaPolicyDetailAPI(TenantAPIView):
    permission_classes = [IsTenantMember, IsTenantAdmin]

    @extend_schema(responses=SlaPolicyOutput)
    def get(self, request: Request, policy_id: UUID) -> Response:
        return Response(SlaPolicyOutput(selectors.get_sla_policy(policy_id)).data)

    @extend_schema(request=SlaPolicyUpdateInput, responses=SlaPolicyOutput)
    def patch(self, request: Request, policy_id: UUID) -> Response:
        data = _resolve_policy(dict(self.validate(SlaPolicyUpdateInput, request.data)))
        policy = services.save_sla_policy(
            actor=self.membership, policy=selectors.get_sla_policy(policy_id), **data
        )
        return Response(SlaPolicyOutput(policy).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, policy_id: UUID) -> Response:
        services.delete_sla_policy(
            policy=selectors.get_sla_policy(policy_id), actor=self.membership
        )
        return Response(status=http.HTTP_204_NO_CONTENT)


class TicketSlaAPI(TenantAPIView):
    pagination_class = None  # a short list, whole: a plain array

    @extend_schema(responses=SlaTimerOutput(many=True))
    def get(self, request: Request, number: int) -> Response:
        """The ticket's SLA timers, oldest first: met, breached, overdue, paused or running."""
        ticket = ticket_selectors.get_ticket_by_number(number)
        timers = selectors.list_ticket_timers(ticket.id)
        return Response(SlaTimerOutput(timers, many=True).data)
