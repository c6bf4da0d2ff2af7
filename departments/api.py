"""Admin API: departments (/api/v1/departments/, …/<id>/), mailboxes
(/api/v1/mailboxes/, …/<id>/) and business hours (/api/v1/business-hours/, …/<id>/)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from drf_spectacular.utils import extend_schema
from rest_framework import status as http
from rest_framework.request import Request
from rest_framework.response import Response

from departments import selectors, services
from departments.serializers import (
    BusinessHoursInput,
    BusinessHoursOutput,
    DepartmentCreateInput,
    DepartmentOutput,
    DepartmentUpdateInput,
    MailboxCreateInput,
    MailboxOutput,
    MailboxUpdateInput,
)
from helpdesk.api.permissions import IsTenantAdmin, IsTenantAdminOrReadOnly, IsTenantMember
from helpdesk.api.views import TenantAPIView
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.models import Membership


def _resolve(data: dict[str, Any]) -> dict[str, Any]:
    if "department" in data:
        data["department"] = selectors.get_department(data["department"])
    return data


def _department_changes(data: dict[str, Any]) -> dict[str, Any]:
    if "members" in data:
        data["members"] = [tenancy_selectors.get_member(i) for i in dict.fromkeys(data["members"])]
    return data


class DepartmentListAPI(TenantAPIView):
    """Every member reads the departments; admins add them."""

    permission_classes = [IsTenantMember, IsTenantAdminOrReadOnly]

    @extend_schema(responses=DepartmentOutput(many=True))
    def get(self, request: Request) -> Response:
        departments = selectors.list_departments().prefetch_related("members")
        return self.paginate(request, departments, DepartmentOutput)

    @extend_schema(request=DepartmentCreateInput, responses={201: DepartmentOutput})
    def post(self, request: Request) -> Response:
        data = _department_changes(dict(self.validate(DepartmentCreateInput, request.data)))
        department = services.create_department(
            name=data.pop("name"),
            description=data.pop("description", ""),
            is_default=data.pop("is_default", False),
            actor=self.membership,
        )
        if data:
            department = services.update_department(
                department=department, actor=self.membership, **data
            )
        return Response(DepartmentOutput(department).data, status=http.HTTP_201_CREATED)


class DepartmentDetailAPI(TenantAPIView):
    permission_classes = [IsTenantMember, IsTenantAdminOrReadOnly]

    @extend_schema(responses=DepartmentOutput)
    def get(self, request: Request, department_id: UUID) -> Response:
        return Response(DepartmentOutput(selectors.get_department(department_id)).data)

    @extend_schema(request=DepartmentUpdateInput, responses=DepartmentOutput)
    def patch(self, request: Request, department_id: UUID) -> Response:
        data = _department_changes(dict(self.validate(DepartmentUpdateInput, request.data)))
        department = services.update_department(
            department=selectors.get_department(department_id), actor=self.membership, **data
        )
        return Response(DepartmentOutput(department).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, department_id: UUID) -> Response:
        services.delete_department(
            department=selectors.get_department(department_id), actor=self.membership
        )
        return Response(status=http.HTTP_204_NO_CONTENT)


class MailboxListAPI(TenantAPIView):
    permission_classes = [IsTenantMember, IsTenantAdmin]

    @extend_schema(responses=MailboxOutput(many=True))
    def get(self, request: Request) -> Response:
        return self.paginate(request, selectors.list_mailboxes(), MailboxOutput)

    @extend_schema(request=MailboxCreateInput, responses={201: MailboxOutput})
    def post(self, request: Request) -> Response:
        data = _resolve(dict(self.validate(MailboxCreateInput, request.data)))
        data.setdefault("department", selectors.get_default_department())
        mailbox = services.create_mailbox(actor=self.membership, **data)
        return Response(MailboxOutput(mailbox).data, status=http.HTTP_201_CREATED)


class MailboxDetailAPI(TenantAPIView):
    permission_classes = [IsTenantMember, IsTenantAdmin]

    @extend_schema(responses=MailboxOutput)
    def get(self, request: Request, mailbox_id: UUID) -> Response:
        return Response(MailboxOutput(selectors.get_mailbox(mailbox_id)).data)

    @extend_schema(request=MailboxUpdateInput, responses=MailboxOutput)
    def patch(self, request: Request, mailbox_id: UUID) -> Response:
        data = _resolve(dict(self.validate(MailboxUpdateInput, request.data)))
        mailbox = services.update_mailbox(
            mailbox=selectors.get_mailbox(mailbox_id), actor=self.membership, **data
        )
        return Response(MailboxOutput(mailbox).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, mailbox_id: UUID) -> Response:
        services.delete_mailbox(mailbox=selectors.get_mailbox(mailbox_id), actor=self.membership)
        return Response(status=http.HTTP_204_NO_CONTENT)


def _save_hours(data: dict[str, Any], actor: Membership, hours: Any = None) -> Any:
    return services.save_business_hours(
        business_hours=hours,
        actor=actor,
        name=data["name"],
        timezone=data["timezone"],
        intervals=[dict(interval) for interval in data["intervals"]],
        holidays=[services.NewHoliday(date=h["date"], name=h["name"]) for h in data["holidays"]],
    )


class BusinessHoursListAPI(TenantAPIView):
    permission_classes = [IsTenantMember, IsTenantAdmin]

    @extend_schema(responses=BusinessHoursOutput(many=True))
    def get(self, request: Request) -> Response:
        """Schedules SLA policies count on: weekly periods in a time zone, and holidays."""
        return self.paginate(request, selectors.list_business_hours(), BusinessHoursOutput)

    @extend_schema(request=BusinessHoursInput, responses={201: BusinessHoursOutput})
    def post(self, request: Request) -> Response:
        data = dict(self.validate(BusinessHoursInput, request.data))
        hours = _save_hours(data, self.membership)
        hours = selectors.get_business_hours(hours.id)
        return Response(BusinessHoursOutput(hours).data, status=http.HTTP_201_CREATED)


class BusinessHoursDetailAPI(TenantAPIView):
    permission_classes = [IsTenantMember, IsTenantAdmin]

    @extend_schema(responses=BusinessHoursOutput)
    def get(self, request: Request, hours_id: UUID) -> Response:
        return Response(BusinessHoursOutput(selectors.get_business_hours(hours_id)).data)

    @extend_schema(request=BusinessHoursInput, responses=BusinessHoursOutput)
    def put(self, request: Request, hours_id: UUID) -> Response:
        """Replace the schedule and its holidays."""
        data = dict(self.validate(BusinessHoursInput, request.data))
        hours = _save_hours(data, self.membership, selectors.get_business_hours(hours_id))
        return Response(BusinessHoursOutput(selectors.get_business_hours(hours.id)).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, hours_id: UUID) -> Response:
        services.delete_business_hours(
            business_hours=selectors.get_business_hours(hours_id), actor=self.membership
        )
        return Response(status=http.HTTP_204_NO_CONTENT)
