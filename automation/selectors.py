"""Reads for automation: the canned responses a member may use."""

from __future__ import annotations

from uuid import UUID

from django.db.models import Q, QuerySet

from automation.errors import CannedResponseNotFound
from automation.models import CannedResponse, CannedResponseScope
from departments.models import DepartmentMember
from helpdesk.tenancy.models import Membership


def list_canned_responses(
    *, member: Membership, query: str = "", scope: str | None = None
) -> QuerySet[CannedResponse]:
    """Shared ones, those of the member's departments, and the member's own; searchable."""
    departments = DepartmentMember.objects.filter(membership=member).values("department_id")
    visible = (
        Q(scope=CannedResponseScope.TENANT)
        | Q(scope=CannedResponseScope.DEPARTMENT, department_id__in=departments)
        | Q(scope=CannedResponseScope.PERSONAL, owner=member)
    )
    if member.is_admin:  # admins manage every shared response, not only their departments'
        visible |= Q(scope=CannedResponseScope.DEPARTMENT)
    responses = CannedResponse.objects.filter(visible).select_related("department")
    if scope:
        responses = responses.filter(scope=scope)
    if query.strip():
        responses = responses.filter(
            Q(title__icontains=query.strip()) | Q(body__icontains=query.strip())
        )
    return responses.order_by("-usage_count", "title")


def get_canned_response(*, member: Membership, response_id: UUID | str) -> CannedResponse:
    """A response the member may use; another member's personal one is not found."""
    response = list_canned_responses(member=member).filter(id=response_id).first()
    if response is None:
        raise CannedResponseNotFound(response_id=str(response_id))
    return response
