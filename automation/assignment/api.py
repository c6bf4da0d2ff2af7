"""Assignment API: a department's backlog and its agents' load
(/api/v1/departments/<id>/assignment/). The settings themselves are read and changed on
/api/v1/departments/<id>/ (departments.api)."""

from __future__ import annotations

from uuid import UUID

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from automation.assignment import selectors
from automation.assignment.serializers import DepartmentAssignmentOutput
from departments import selectors as department_selectors
from helpdesk.api.permissions import IsTenantAdmin, IsTenantMember
from helpdesk.api.views import TenantAPIView


class DepartmentAssignmentAPI(TenantAPIView):
    """Admins: how many tickets wait, and who has how many against the cap."""

    permission_classes = [IsTenantMember, IsTenantAdmin]
    pagination_class = None

    @extend_schema(responses=DepartmentAssignmentOutput)
    def get(self, request: Request, department_id: UUID) -> Response:
        department = department_selectors.get_department(department_id)
        load = selectors.get_department_load(department)
        return Response(DepartmentAssignmentOutput(load).data)
