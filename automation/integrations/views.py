"""Integration pages: the admin's list of task integrations and contact apps, one of each
with its form, a "send test" and delete; and the ticket page's lazy sidebar panel (linked
items, "Create task in …" buttons, the contact apps, each loaded on its own so a slow CRM
never holds the page)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from automation.errors import ContactAppNotFound, ExternalTaskNotFound, IntegrationNotFound
from automation.integrations import config, contact_apps, selectors, services, templating
from automation.integrations.forms import (
    ContactAppForm,
    IntegrationForm,
    show_fields,
    show_headers,
)
from automation.models import ContactApp, ExternalTaskIntegration, ExternalTaskStatus
from helpdesk.accounts.activity import passive
from helpdesk.core.errors import DomainError
from helpdesk.core.views import not_found_page
from helpdesk.tenancy import permissions
from helpdesk.tenancy.after_transaction import FinishedAfterTransaction
from helpdesk.tenancy.decorators import member_required
from helpdesk.tenancy.http import MemberHttpRequest
from helpdesk.tenancy.models import Membership
from helpdesk.tenancy.permissions import Capability
from tickets.errors import TicketNotFound
from tickets.models import Ticket
from tickets.ticket import selectors as ticket_selectors

FORM_ERROR_FIELDS = ("name", "url_template")
CONTACT_APP_BOX = "automation/ticket_contact_app.html"


# Where a page's test result goes: the page is rendered inside the request's transaction,
# the test's request is made after it (up to its time limit) and its result put here. Data
# on the page is escaped, so this comment cannot come from anything an admin typed.
TEST_RESULT_SLOT = mark_safe("<!-- test result -->")


def _with_test_result(
    page: HttpResponse, template: str, run: Callable[[], config.TrialOutcome]
) -> HttpResponse:
    """The page with the result of `run` in its slot, made once the transaction has ended."""
    html = page.content.decode()

    def finish() -> tuple[str, int]:
        result = render_to_string(template, {"outcome": run()})
        return html.replace(TEST_RESULT_SLOT, result, 1), page.status_code

    return FinishedAfterTransaction(finish)


@member_required(may=Capability.MANAGE_SETTINGS)
def integrations(request: MemberHttpRequest) -> HttpResponse:
    """Admin: the task integrations and contact apps."""
    return render(
        request,
        "automation/integrations.html",
        {
            "integrations": list(selectors.list_integrations()),
            "apps": list(selectors.list_contact_apps()),
        },
    )


def _integration_initial(integration: ExternalTaskIntegration) -> dict[str, Any]:
    return {
        "name": integration.name,
        "method": integration.method,
        "url_template": integration.url_template,
        "headers": show_headers(integration.headers_template),
        "secret_header_name": integration.secret_header_name,
        "body_template": integration.body_template,
        "id_path": integration.id_path,
        "link_path": integration.link_path,
        "link_template": integration.link_template,
        "is_active": integration.is_active,
    }


def _integration_page(
    request: MemberHttpRequest,
    integration: ExternalTaskIntegration | None,
    form: IntegrationForm,
    status: int = 200,
    **extra: Any,
) -> HttpResponse:
    return render(
        request,
        "automation/integration_detail.html",
        {
            "integration": integration,
            "form": form,
            "placeholders": templating.TICKET_PLACEHOLDERS,
            **extra,
        },
        status=status,
    )


@member_required(may=Capability.MANAGE_SETTINGS)
def integration_detail(
    request: MemberHttpRequest, integration_id: UUID | None = None
) -> HttpResponse:
    """Admin: a new task integration, or one to change."""
    integration = None
    if integration_id is not None:
        try:
            integration = selectors.get_integration(integration_id)
        except IntegrationNotFound:
            return not_found_page(request, "That integration")
    initial = _integration_initial(integration) if integration else {"is_active": True}
    form = IntegrationForm(request.POST or None, initial=initial)
    if request.method == "POST":
        if form.is_valid():
            arguments = form.service_arguments(creating=integration is None)
            try:
                if integration is None:
                    integration = services.create_integration(actor=request.membership, **arguments)
                else:
                    services.update_integration(
                        integration=integration, actor=request.membership, **arguments
                    )
            except DomainError as error:
                form.add_error(None, str(error))
            else:
                messages.success(request, f"Integration {integration.name} saved.")
                return redirect("automation-integrations:integration-detail", integration.id)
        return _integration_page(request, integration, form, status=400)
    return _integration_page(request, integration, form)


@require_POST
@member_required(may=Capability.MANAGE_SETTINGS)
def integration_test(request: MemberHttpRequest, integration_id: UUID) -> HttpResponse:
    """Admin: make the integration's request with sample values and show what came back."""
    try:
        integration = selectors.get_integration(integration_id)
    except IntegrationNotFound:
        return not_found_page(request, "That integration")
    run = services.start_integration_trial(integration=integration, actor=request.membership)
    form = IntegrationForm(initial=_integration_initial(integration))
    page = _integration_page(request, integration, form, test_result_slot=TEST_RESULT_SLOT)
    return _with_test_result(page, "automation/integration_test_result.html", run)


@require_POST
@member_required(may=Capability.MANAGE_SETTINGS)
def integration_delete(request: MemberHttpRequest, integration_id: UUID) -> HttpResponse:
    try:
        integration = selectors.get_integration(integration_id)
    except IntegrationNotFound:
        return not_found_page(request, "That integration")
    services.delete_integration(integration=integration, actor=request.membership)
    messages.success(request, f"Integration {integration.name} deleted.")
    return redirect("automation-integrations:integrations")


def _app_initial(app: ContactApp) -> dict[str, Any]:
    return {
        "name": app.name,
        "url_template": app.url_template,
        "headers": show_headers(app.headers_template),
        "secret_header_name": app.secret_header_name,
        "cache_seconds": app.cache_seconds,
        "timeout_seconds": app.timeout_seconds,
        "display_fields": show_fields(app.fields),
        "is_active": app.is_active,
    }


def _app_page(
    request: MemberHttpRequest,
    app: ContactApp | None,
    form: ContactAppForm,
    status: int = 200,
    **extra: Any,
) -> HttpResponse:
    return render(
        request,
        "automation/contact_app_detail.html",
        {"app": app, "form": form, "placeholders": templating.CONTACT_PLACEHOLDERS, **extra},
        status=status,
    )


@member_required(may=Capability.MANAGE_SETTINGS)
def contact_app_detail(request: MemberHttpRequest, app_id: UUID | None = None) -> HttpResponse:
    """Admin: a new contact app, or one to change."""
    app = None
    if app_id is not None:
        try:
            app = selectors.get_contact_app(app_id)
        except ContactAppNotFound:
            return not_found_page(request, "That contact app")
    initial = (
        _app_initial(app)
        if app
        else {"is_active": True, "cache_seconds": 300, "timeout_seconds": 3}
    )
    form = ContactAppForm(request.POST or None, initial=initial)
    if request.method == "POST":
        if form.is_valid():
            arguments = form.service_arguments(creating=app is None)
            try:
                if app is None:
                    app = contact_apps.create_contact_app(actor=request.membership, **arguments)
                else:
                    contact_apps.update_contact_app(app=app, actor=request.membership, **arguments)
            except DomainError as error:
                form.add_error(None, str(error))
            else:
                messages.success(request, f"Contact app {app.name} saved.")
                return redirect("automation-integrations:contact-app-detail", app.id)
        return _app_page(request, app, form, status=400)
    return _app_page(request, app, form)


@require_POST
@member_required(may=Capability.MANAGE_SETTINGS)
def contact_app_test(request: MemberHttpRequest, app_id: UUID) -> HttpResponse:
    """Admin: fetch the app for a contact email (or the sample) and show the fields."""
    try:
        app = selectors.get_contact_app(app_id)
    except ContactAppNotFound:
        return not_found_page(request, "That contact app")
    email = str(request.POST.get("contact_email") or "")[:254]
    run = contact_apps.start_contact_app_trial(
        app=app, actor=request.membership, contact_email=email
    )
    form = ContactAppForm(initial=_app_initial(app))
    page = _app_page(request, app, form, test_email=email, test_result_slot=TEST_RESULT_SLOT)
    return _with_test_result(page, "automation/contact_app_test_result.html", run)


@require_POST
@member_required(may=Capability.MANAGE_SETTINGS)
def contact_app_delete(request: MemberHttpRequest, app_id: UUID) -> HttpResponse:
    try:
        app = selectors.get_contact_app(app_id)
    except ContactAppNotFound:
        return not_found_page(request, "That contact app")
    contact_apps.delete_contact_app(app=app, actor=request.membership)
    messages.success(request, f"Contact app {app.name} deleted.")
    return redirect("automation-integrations:integrations")


# --- The ticket sidebar ----------------------------------------------------------------------


def _panel(
    request: MemberHttpRequest, ticket: Ticket, error: str = "", status: int = 200
) -> HttpResponse:
    context = integrations_panel(ticket, request.membership, error=error)
    response = render(request, "automation/ticket_integrations.html", context, status=status)
    response["Vary"] = "HX-Request"
    return response


def integrations_panel(ticket: Ticket, member: Membership, error: str = "") -> dict[str, Any]:
    """What the ticket sidebar's integrations panel shows: the linked items, the create
    buttons the member may use and the contact apps (each fetched by its own request)."""
    items = list(selectors.list_external_tasks(ticket))
    now = timezone.now()
    for item in items:
        item.may_retry = item.status == ExternalTaskStatus.FAILED or services.is_stuck(  # type: ignore[attr-defined]
            item, now
        )
    return {
        "ticket": ticket,
        "items": items,
        "integrations": [i for i in selectors.list_integrations() if i.is_active],
        "apps": [app for app in selectors.list_contact_apps() if app.is_active],
        "waiting": any(
            i.status in {ExternalTaskStatus.PENDING, ExternalTaskStatus.SENDING} for i in items
        ),
        "may_create": permissions.can_create_external_tasks(member),
        "error": error,
    }


def _gone(request: MemberHttpRequest) -> int:
    """404 for a missing integration or item, but 409 to htmx: the page's htmx swaps only
    2xx, 400 and 409 answers (base.html), and the panel must show why nothing happened."""
    return 409 if request.htmx else 404


def _ticket(number: int) -> Ticket | None:
    try:
        return ticket_selectors.get_ticket_by_number(number)
    except TicketNotFound:
        return None


@passive
@member_required
def ticket_integrations(request: MemberHttpRequest, number: int) -> HttpResponse:
    """The ticket sidebar's integrations panel (htmx): linked items, the create buttons and
    the contact apps (each fetched by its own request). Empty when nothing is set up."""
    ticket = _ticket(number)
    if ticket is None:
        return HttpResponse("Not found.", status=404)
    return _panel(request, ticket)


@require_POST
@member_required
def ticket_external_task_create(
    request: MemberHttpRequest, number: int, integration_id: UUID
) -> HttpResponse:
    """Create a task in the integration's tool (the panel comes back showing it being
    created, then refreshes itself until it is)."""
    ticket = _ticket(number)
    if ticket is None:
        return HttpResponse("Not found.", status=404)
    try:
        integration = selectors.get_integration(integration_id)
        services.create_external_task(
            ticket=ticket, integration=integration, actor=request.membership
        )
    except IntegrationNotFound:
        return _panel(
            request, ticket, error="That integration no longer exists.", status=_gone(request)
        )
    except DomainError as error:
        return _panel(request, ticket, error=str(error), status=error.status)
    if not request.htmx:
        return redirect("tickets:ticket-detail", ticket.number)
    return _panel(request, ticket)


@require_POST
@member_required
def ticket_external_task_retry(
    request: MemberHttpRequest, number: int, item_id: UUID
) -> HttpResponse:
    """Try a failed linked item again."""
    ticket = _ticket(number)
    if ticket is None:
        return HttpResponse("Not found.", status=404)
    try:
        item = selectors.get_external_task(ticket, item_id)
        services.retry_external_task(item=item, actor=request.membership)
    except ExternalTaskNotFound:
        return _panel(
            request, ticket, error="That item is not on this ticket.", status=_gone(request)
        )
    except DomainError as error:
        return _panel(request, ticket, error=str(error), status=error.status)
    if not request.htmx:
        return redirect("tickets:ticket-detail", ticket.number)
    return _panel(request, ticket)


@passive
@member_required
def ticket_contact_app(request: MemberHttpRequest, number: int, app_id: UUID) -> HttpResponse:
    """One contact app's box for the ticket's contact (htmx): its fields, not found, or
    the error in a sentence; an older answer marked stale when a refresh failed."""
    ticket = _ticket(number)
    if ticket is None:
        return HttpResponse("Not found.", status=404)
    try:
        app = selectors.get_contact_app(app_id)
    except ContactAppNotFound:
        return HttpResponse("Not found.", status=404)
    if not app.is_active:
        return HttpResponse("", status=404)
    found = contact_apps.look_up_contact_app(
        app=app, contact=ticket.contact, retry=request.GET.get("refresh") == "1"
    )
    # The box needs only what is read now (the ticket's number, its contact's address, the
    # app): it is made the same way from the cache or after the fetch.
    context = {"ticket": ticket, "app": app}
    response: HttpResponse
    if isinstance(found, contact_apps.PendingFetch):
        pending = found

        def finish() -> tuple[str, int]:
            view = contact_apps.complete_fetch(pending)
            return render_to_string(CONTACT_APP_BOX, {**context, "view": view}), 200

        # The CRM is asked once the request's transaction has ended (up to five seconds).
        response = FinishedAfterTransaction(finish)
    else:
        response = HttpResponse(render_to_string(CONTACT_APP_BOX, {**context, "view": found}))
    response["Vary"] = "HX-Request"
    return response
