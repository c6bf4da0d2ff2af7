"""Shift and leave API: /api/v1/members/<id>/shift/ (every member reads; admins put and
delete), /api/v1/members/<id>/leave/ and …/leave/<leave_id>/ (every member reads; admins
add and remove). A member of another tenant is 404."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import status as http
from rest_framework.request import Request
from rest_framework.response import Response

from departments.models import AgentShift
from departments.shifts import selectors, services
from departments.shifts.serializers import (
    AgentShiftInput,
    AgentShiftOutput,
    ShiftLeaveInput,
    ShiftLeaveOutput,
)
from helpdesk.accounts import selectors as account_selectors
from helpdesk.api.permissions import CanManageAvailabilityOrReadOnly, IsTenantMember
from helpdesk.api.views import TenantAPIView


def _shift_output(shift: AgentShift) -> dict[str, Any]:
    now = timezone.now()
    hours = selectors.member_hours([shift.membership_id], now)[shift.membership_id]
    return AgentShiftOutput(
        {
            "membership_id": shift.membership_id,
            "timezone": shift.timezone,
            "intervals": shift.intervals,
            "on_shift": hours.on_shift(now),
            "shift_ends_at": hours.shift_ends_at(now),
            "next_shift_at": hours.next_shift_at(now),
            "updated_at": shift.updated_at,
        }
    ).data


class MemberShiftAPI(TenantAPIView):
    permission_classes = [IsTenantMember, CanManageAvailabilityOrReadOnly]
    pagination_class = None

    @extend_schema(responses=AgentShiftOutput)
    def get(self, request: Request, member_id: UUID) -> Response:
        """The member's weekly hours; 404 `shift_not_found` when they have none (then they
        are on shift at all times, except on leave)."""
        seat = account_selectors.get_seat(member_id)
        return Response(_shift_output(selectors.get_shift(seat.id)))

    @extend_schema(request=AgentShiftInput, responses=AgentShiftOutput)
    def put(self, request: Request, member_id: UUID) -> Response:
        """Set (or replace) the member's weekly hours, in their time zone: periods per
        weekday (0 Monday), HH:MM to HH:MM (24:00 for midnight; a night shift is two
        periods, 22:00-24:00 and 00:00-06:00 the next day). Applied at once: outside them
        the member is offline. Admins only."""
        seat = account_selectors.get_seat(member_id)
        data = self.validate(AgentShiftInput, request.data)
        shift = services.set_shift(
            membership=seat,
            timezone=data["timezone"],
            intervals=[dict(interval) for interval in data["intervals"]],
            actor=self.membership,
        )
        return Response(_shift_output(shift))

    @extend_schema(responses={204: None})
    def delete(self, request: Request, member_id: UUID) -> Response:
        """Remove the member's shift (no error when there is none): on shift at all times
        again. Admins only."""
        seat = account_selectors.get_seat(member_id)
        services.clear_shift(membership=seat, actor=self.membership)
        return Response(status=http.HTTP_204_NO_CONTENT)


class MemberLeaveListAPI(TenantAPIView):
    permission_classes = [IsTenantMember, CanManageAvailabilityOrReadOnly]
    pagination_class = None

    @extend_schema(responses=ShiftLeaveOutput(many=True))
    def get(self, request: Request, member_id: UUID) -> Response:
        """The member's leave, earliest first (a short list, answered whole)."""
        seat = account_selectors.get_seat(member_id)
        return Response(ShiftLeaveOutput(selectors.list_leave(seat.id), many=True).data)

    @extend_schema(request=ShiftLeaveInput, responses={201: ShiftLeaveOutput})
    def post(self, request: Request, member_id: UUID) -> Response:
        """Days off, first and last included: the member is off shift all of those days
        (in their shift's time zone, or the help desk's). Admins only."""
        seat = account_selectors.get_seat(member_id)
        data = self.validate(ShiftLeaveInput, request.data)
        leave = services.add_leave(membership=seat, actor=self.membership, **data)
        return Response(ShiftLeaveOutput(leave).data, status=http.HTTP_201_CREATED)


class MemberLeaveDetailAPI(TenantAPIView):
    permission_classes = [IsTenantMember, CanManageAvailabilityOrReadOnly]
    pagination_class = None

    @extend_schema(responses=ShiftLeaveOutput)
    def get(self, request: Request, member_id: UUID, leave_id: UUID) -> Response:
        seat = account_selectors.get_seat(member_id)
        return Response(ShiftLeaveOutput(selectors.get_leave(seat.id, leave_id)).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, member_id: UUID, leave_id: UUID) -> Response:
        """Withdraw the leave. Admins only."""
        seat = account_selectors.get_seat(member_id)
        services.remove_leave(leave=selectors.get_leave(seat.id, leave_id), actor=self.membership)
        return Response(status=http.HTTP_204_NO_CONTENT)
