"""Tickets API: /api/v1/tickets/ and /api/v1/tickets/<number>/(messages/)."""

from __future__ import annotations

import dataclasses
from typing import Any
from uuid import UUID

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status as http
from rest_framework.request import Request
from rest_framework.response import Response

from departments import selectors as department_selectors
from departments.errors import DepartmentNotFound
from departments.models import Department
from helpdesk.api.pagination import IdCursorPagination
from helpdesk.api.permissions import IsTenantAdmin, IsTenantMember
from helpdesk.api.views import TenantAPIView
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.http import MemberRequest
from tickets import inbox, selectors, services
from tickets.configuration import services as configuration
from tickets.errors import EmailTemplateNotFound
from tickets.mail import intake
from tickets.mail import templates as mail_templates
from tickets.models import EmailTemplateKind
from tickets.satisfaction import selectors as satisfaction_selectors
from tickets.serializers import (
    EmailTemplateInput,
    EmailTemplateOutput,
    EmailTemplatePreviewOutput,
    EmailTemplateQuery,
    InboundEmailListQuery,
    InboundEmailOutput,
    MessageCreateInput,
    MessageOutput,
    TicketCreateInput,
    TicketDetailOutput,
    TicketListQuery,
    TicketOutput,
    TicketUpdateInput,
)

API_SORTS = {
    "-created": ("-id",),
    "created": ("id",),
    "-updated": ("-updated_at", "-id"),
    "-priority": ("-priority_rank", "-id"),
    "due": ("due_at", "id"),
    "sla": ("sla_due_at", "id"),
}


def _department(value: str) -> Department:
    try:
        return department_selectors.get_department(UUID(value))
    except ValueError:
        department = department_selectors.find_department_by_name(value)
        if department is None:
            raise DepartmentNotFound(name=value) from None
        return department


class TicketListAPI(TenantAPIView):
    @extend_schema(parameters=[TicketListQuery], responses=TicketOutput(many=True))
    def get(self, request: MemberRequest) -> Response:
        """Tickets by the inbox's filters: a built-in `view` or a `saved` view, refined by
        any filter parameter (custom fields as `cf_<key>`), cursor-paginated in `sort`
        order."""
        self.validate(TicketListQuery, request.query_params)
        params = {key: request.query_params.get(key, "") for key in request.query_params}
        _, _, _, _, tickets = inbox.inbox_tickets(
            params, reader=self.membership, language=request.tenant.language, default=None
        )
        paginator = IdCursorPagination()
        # DRF takes a tuple too; the stubs say str.
        paginator.ordering = API_SORTS.get(params.get("sort", ""), ("-id",))  # type: ignore[assignment]
        # Cursor pages need a value to continue from: these sorts list dated tickets only.
        if params.get("sort") == "due":
            tickets = tickets.filter(due_at__isnull=False)
        elif params.get("sort") == "sla":
            tickets = tickets.filter(sla_due_at__isnull=False)
        page = paginator.paginate_queryset(tickets, request, view=self)
        data = TicketOutput(page, many=True, context={"request": request}).data
        return paginator.get_paginated_response(data)

    @extend_schema(request=TicketCreateInput, responses={201: TicketOutput})
    def post(self, request: MemberRequest) -> Response:
        data = self.validate(TicketCreateInput, request.data)
        department = (
            _department(data["department"])
            if data.get("department")
            else department_selectors.get_default_department()
        )
        contact = services.get_or_create_contact(
            email=data["contact_email"], name=data.get("contact_name", "")
        )
        ticket = services.create_ticket(
            subject=data["subject"],
            body=data["body"],
            contact=contact,
            department=department,
            channel="api",
            priority=data.get("priority", "normal"),
            tags=data.get("tags", ()),
            actor=self.membership,
            language=request.tenant.language,
        )
        ticket = selectors.get_ticket_by_number(ticket.number)
        return Response(TicketOutput(ticket).data, status=http.HTTP_201_CREATED)


def _ticket_detail(number: int) -> dict[str, Any]:
    """The ticket as the detail URL shows it: with its satisfaction survey."""
    ticket = selectors.get_ticket_by_number(number)
    survey = satisfaction_selectors.get_ticket_rating(ticket.id)
    return TicketDetailOutput(ticket, context={"satisfaction": survey}).data


class TicketDetailAPI(TenantAPIView):
    @extend_schema(responses=TicketDetailOutput)
    def get(self, request: Request, number: int) -> Response:
        return Response(_ticket_detail(number))

    @extend_schema(request=TicketUpdateInput, responses=TicketDetailOutput)
    def patch(self, request: MemberRequest, number: int) -> Response:
        data = self.validate(TicketUpdateInput, request.data)
        ticket = selectors.get_ticket_by_number(number)
        changes: dict[str, Any] = {
            k: v
            for k, v in data.items()
            if k not in {"department", "assignee", "type", "custom_status"}
        }
        if data.get("type"):
            changes["type"] = configuration.get_ticket_type(data["type"])
        elif "type" in data:
            changes["type"] = None
        if data.get("custom_status"):
            changes["custom_status"] = configuration.get_custom_status(data["custom_status"])
        elif "custom_status" in data:
            changes["custom_status"] = None
        if "department" in data:
            changes["department"] = _department(data["department"])
        if "assignee" in data:
            changes["assignee"] = (
                tenancy_selectors.get_member(data["assignee"]) if data["assignee"] else None
            )
        services.update_ticket(
            ticket=ticket, actor=self.membership, language=request.tenant.language, **changes
        )
        return Response(_ticket_detail(number))


class TicketMessageListAPI(TenantAPIView):
    @extend_schema(responses=MessageOutput(many=True))
    def get(self, request: Request, number: int) -> Response:
        ticket = selectors.get_ticket_by_number(number)
        return self.paginate(request, selectors.list_thread(ticket), MessageOutput)

    @extend_schema(request=MessageCreateInput, responses={201: MessageOutput})
    def post(self, request: MemberRequest, number: int) -> Response:
        data = self.validate(MessageCreateInput, request.data)
        message = services.add_message(
            ticket=selectors.get_ticket_by_number(number),
            kind=data["kind"],
            body=data["body"],
            status=data.get("status"),
            attachments=services.attachments_from_uploads(data.get("attachments", [])),
            seen_up_to=data.get("seen_up_to"),
            actor=self.membership,
            language=request.tenant.language,
        )
        return Response(MessageOutput(message).data, status=http.HTTP_201_CREATED)


class InboundEmailListAPI(TenantAPIView):
    """The inbound log (admins): every received mail with its status and reason."""

    permission_classes = [IsTenantMember, IsTenantAdmin]

    @extend_schema(parameters=[InboundEmailListQuery], responses=InboundEmailOutput(many=True))
    def get(self, request: Request) -> Response:
        query = self.validate(InboundEmailListQuery, request.query_params)
        return self.paginate(
            request, selectors.list_inbound_emails(status=query.get("status")), InboundEmailOutput
        )


class InboundEmailDetailAPI(TenantAPIView):
    permission_classes = [IsTenantMember, IsTenantAdmin]

    @extend_schema(responses=InboundEmailOutput)
    def get(self, request: Request, email_id: UUID) -> Response:
        return Response(InboundEmailOutput(selectors.get_inbound_email(email_id)).data)


class InboundEmailRawAPI(TenantAPIView):
    permission_classes = [IsTenantMember, IsTenantAdmin]

    @extend_schema(responses={(200, "message/rfc822"): OpenApiTypes.BINARY})
    def get(self, request: Request, email_id: UUID) -> HttpResponse:
        email = selectors.get_inbound_email(email_id)
        response = HttpResponse(bytes(email.raw), content_type="message/rfc822")
        response["Content-Disposition"] = f'attachment; filename="{email.id}.eml"'
        return response


class InboundEmailRetryAPI(TenantAPIView):
    permission_classes = [IsTenantMember, IsTenantAdmin]

    @extend_schema(request=None, responses={202: InboundEmailOutput})
    def post(self, request: Request, email_id: UUID) -> Response:
        email = intake.retry_inbound_email(email=selectors.get_inbound_email(email_id))
        return Response(InboundEmailOutput(email).data, status=http.HTTP_202_ACCEPTED)


def _template_department(request: Request, view: TenantAPIView) -> Department | None:
    query = view.validate(EmailTemplateQuery, request.query_params)
    return (
        department_selectors.get_department(query["department"])
        if query.get("department")
        else None
    )


def _template_data(kind: str, department: Department | None) -> dict[str, Any]:
    department_id = department.id if department else None
    wording = mail_templates.effective_template(kind, department_id)
    return {
        "kind": kind,
        "department": department_id,
        "custom": (kind, department_id) in selectors.list_custom_templates(),
        **dataclasses.asdict(wording),
    }


class EmailTemplateListAPI(TenantAPIView):
    pagination_class = None  # a short list, whole: a plain array
    permission_classes = [IsTenantMember, IsTenantAdmin]

    @extend_schema(parameters=[EmailTemplateQuery], responses=EmailTemplateOutput(many=True))
    def get(self, request: Request) -> Response:
        department = _template_department(request, self)
        return Response([_template_data(kind, department) for kind in EmailTemplateKind.values])


class EmailTemplateDetailAPI(TenantAPIView):
    permission_classes = [IsTenantMember, IsTenantAdmin]

    def _kind(self, kind: str) -> str:
        if kind not in EmailTemplateKind.values:
            raise EmailTemplateNotFound(kind=kind)
        return kind

    @extend_schema(parameters=[EmailTemplateQuery], responses=EmailTemplateOutput)
    def get(self, request: Request, kind: str) -> Response:
        return Response(_template_data(self._kind(kind), _template_department(request, self)))

    @extend_schema(
        parameters=[EmailTemplateQuery], request=EmailTemplateInput, responses=EmailTemplateOutput
    )
    def put(self, request: Request, kind: str) -> Response:
        kind, department = self._kind(kind), _template_department(request, self)
        data = self.validate(EmailTemplateInput, request.data)
        mail_templates.save_template(kind=kind, department=department, **data)
        return Response(_template_data(kind, department))

    @extend_schema(parameters=[EmailTemplateQuery], responses={204: None})
    def delete(self, request: Request, kind: str) -> Response:
        mail_templates.reset_template(
            kind=self._kind(kind), department=_template_department(request, self)
        )
        return Response(status=http.HTTP_204_NO_CONTENT)


class EmailTemplatePreviewAPI(TenantAPIView):
    permission_classes = [IsTenantMember, IsTenantAdmin]

    @extend_schema(request=EmailTemplateInput, responses=EmailTemplatePreviewOutput)
    def post(self, request: Request) -> Response:
        data = self.validate(EmailTemplateInput, request.data)
        return Response(dataclasses.asdict(mail_templates.preview(**data)))
