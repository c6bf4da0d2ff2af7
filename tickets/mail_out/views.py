"""Agent pages of email templates."""

from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render

from departments import selectors as department_selectors
from helpdesk.core.errors import DomainError
from helpdesk.core.placeholders import KNOWN as KNOWN_PLACEHOLDERS
from helpdesk.core.views import not_found_page
from helpdesk.tenancy.decorators import member_required
from helpdesk.tenancy.http import MemberHttpRequest
from helpdesk.tenancy.permissions import Capability
from tickets.mail_out import selectors as mail_out_selectors
from tickets.mail_out import templates as mail_templates
from tickets.models import (
    EmailTemplateKind,
)


@member_required(may=Capability.MANAGE_SETTINGS)
def email_templates(request: MemberHttpRequest) -> HttpResponse:
    """Every kind of customer email, with the tenant's and each department's wording."""
    custom = mail_out_selectors.list_custom_templates()
    departments = list(department_selectors.list_departments())
    rows = [
        {
            "kind": kind,
            "label": label,
            "custom": (kind, None) in custom,
            "overrides": [d for d in departments if (kind, d.id) in custom],
        }
        for kind, label in EmailTemplateKind.choices
    ]
    return render(
        request, "tickets/email_templates.html", {"rows": rows, "departments": departments}
    )


@member_required(may=Capability.MANAGE_SETTINGS)
def email_template_edit(request: MemberHttpRequest, kind: str) -> HttpResponse:
    """Edit one template (tenant-wide, or `?department=<id>`), with a sample preview."""
    if kind not in EmailTemplateKind.values:
        return not_found_page(request, "That template")
    department = None
    if request.GET.get("department"):
        try:
            department = department_selectors.get_department(UUID(request.GET["department"]))
        except (DomainError, ValueError):
            return not_found_page(request, "That department")
    fields = TEMPLATE_FIELDS.get(EmailTemplateKind(kind), ("subject", "body"))
    current = mail_templates.effective_template(kind, department.id if department else None)
    values = {name: request.POST.get(name, getattr(current, name)) for name in fields}
    preview, error = None, None
    if request.method == "POST":
        action = request.POST.get("action", "save")
        try:
            if action == "reset":
                mail_templates.reset_template(
                    kind=kind, department=department, actor=request.membership
                )
                messages.success(request, "Back to the inherited wording.")
                return redirect(request.get_full_path())
            if action == "preview":
                preview = mail_templates.preview(kind=kind, **values)
            else:
                mail_templates.save_template(
                    kind=kind, department=department, actor=request.membership, **values
                )
                messages.success(request, "Template saved.")
                return redirect(request.get_full_path())
        except DomainError as domain_error:
            error = str(domain_error)
    return render(
        request,
        "tickets/email_template_form.html",
        {
            "kind": kind,
            "label": EmailTemplateKind(kind).label,
            "department": department,
            "values": values,
            "preview": preview,
            "error": error,
            "placeholders": [
                p
                for p in KNOWN_PLACEHOLDERS
                if (p != "reply.body" or kind == EmailTemplateKind.REPLY)
                and (p != "agent.name" or kind != EmailTemplateKind.ACKNOWLEDGEMENT)
                and (
                    not p.startswith("satisfaction.")
                    or kind == EmailTemplateKind.SATISFACTION_REQUEST
                )
            ],
        },
        status=400 if error else 200,
    )


TEMPLATE_FIELDS = {
    EmailTemplateKind.LAYOUT: ("header", "footer"),
    EmailTemplateKind.REPLY: ("body",),
}
