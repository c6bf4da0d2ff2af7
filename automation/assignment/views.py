"""The department page's assignment panel (htmx fragment): the backlog and each agent's
unsolved tickets against the cap, with who gets tickets now and why not."""

from __future__ import annotations

from uuid import UUID

from django.http import HttpResponse
from django.shortcuts import render

from automation.assignment import selectors
from departments import selectors as department_selectors
from departments.errors import DepartmentNotFound
from helpdesk.tenancy.decorators import member_required
from helpdesk.tenancy.http import MemberHttpRequest
from helpdesk.tenancy.permissions import Capability


@member_required(may=Capability.MANAGE_SETTINGS)
def department_load(request: MemberHttpRequest, department_id: UUID) -> HttpResponse:
    try:
        department = department_selectors.get_department(department_id)
    except DepartmentNotFound:
        return HttpResponse("Not found.", status=404)
    response = render(
        request,
        "automation/department_load.html",
        {"load": selectors.get_department_load(department)},
    )
    response["Vary"] = "HX-Request"
    return response
