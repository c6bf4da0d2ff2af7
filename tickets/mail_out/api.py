"""API of email templates: list, edit, preview."""

from __future__ import annotations

import dataclasses
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import status as http
from rest_framework.request import Request
from rest_framework.response import Response

from departments import selectors as department_selectors
from departments.models import Department
from helpdesk.api.permissions import IsTenantAdmin, IsTenantMember
from helpdesk.api.views import TenantAPIView
from tickets.errors import EmailTemplateNotFound
from tickets.mail_out import selectors as mail_out_selectors
from tickets.mail_out import templates as mail_templates
from tickets.mail_out.serializers import (
    EmailTemplateInput,
    EmailTemplateOutput,
    EmailTemplatePreviewOutput,
    EmailTemplateQuery,
)
from tickets.models import EmailTemplateKind


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
        "custom": (kind, department_id) in mail_out_selectors.list_custom_templates(),
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
        mail_templates.save_template(
            kind=kind, department=department, actor=self.membership, **data
        )
        return Response(_template_data(kind, department))

    @extend_schema(parameters=[EmailTemplateQuery], responses={204: None})
    def delete(self, request: Request, kind: str) -> Response:
        mail_templates.reset_template(
            kind=self._kind(kind),
            department=_template_department(request, self),
            actor=self.membership,
        )
        return Response(status=http.HTTP_204_NO_CONTENT)


class EmailTemplatePreviewAPI(TenantAPIView):
    permission_classes = [IsTenantMember, IsTenantAdmin]

    @extend_schema(request=EmailTemplateInput, responses=EmailTemplatePreviewOutput)
    def post(self, request: Request) -> Response:
        data = self.validate(EmailTemplateInput, request.data)
        return Response(dataclasses.asdict(mail_templates.preview(**data)))
