"""Admin pages: departments, mailboxes and the team of the tenant."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from departments import selectors, services
from departments.forms import DepartmentForm
from helpdesk.core.errors import DomainError
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.decorators import member_required


@member_required(admin=True)
def admin_overview(request: HttpRequest) -> HttpResponse:
    form = DepartmentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            department = services.create_department(
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                actor=request.membership,  # type: ignore[attr-defined]
            )
            messages.success(request, f"Department {department.name} created.")
            return redirect("departments:admin")
        except DomainError as error:
            form.add_error("name", str(error))
    return render(
        request,
        "departments/admin_overview.html",
        {
            "form": form,
            "departments": list(selectors.list_departments_with_counts()),
            "mailboxes": list(selectors.list_mailboxes()),
            "members": list(tenancy_selectors.list_members()),
        },
        status=400 if form.errors else 200,
    )
