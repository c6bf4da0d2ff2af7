"""The webhooks admin pages: the list with a new webhook's form (its secret shown once),
one webhook with its form, a test button and the delivery log (refreshed by htmx while a
delivery waits)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from automation.errors import WebhookNotFound
from automation.models import Webhook, WebhookDeliveryStatus
from automation.webhooks import selectors, services
from automation.webhooks.forms import WebhookForm
from helpdesk.core.errors import DomainError
from helpdesk.core.views import not_found_page
from helpdesk.tenancy.decorators import member_required
from helpdesk.tenancy.http import MemberHttpRequest
from helpdesk.tenancy.permissions import Capability

LOG_PAGE = 25


@member_required(may=Capability.MANAGE_SETTINGS)
def webhooks(request: MemberHttpRequest) -> HttpResponse:
    """Admin: the webhooks, and a new one (its signing secret is shown once)."""
    form = WebhookForm(request.POST or None, initial={"is_active": True})
    new_secret = ""
    created = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            created, new_secret = services.create_webhook(
                actor=request.membership,
                url=data["url"],
                events=data["events"],
                description=data["description"],
            )
        except DomainError as error:
            form.add_error("url", str(error))
        else:
            form = WebhookForm(initial={"is_active": True})
    status = 400 if request.method == "POST" and created is None else 200
    return render(
        request,
        "automation/webhooks.html",
        {
            "webhooks": list(selectors.list_webhooks()),
            "form": form,
            "created": created,
            "new_secret": new_secret,
        },
        status=status,
    )


def _get(webhook_id: UUID) -> Webhook | None:
    try:
        return selectors.get_webhook(webhook_id)
    except WebhookNotFound:
        return None


def _log_context(request: MemberHttpRequest, webhook: Webhook) -> dict[str, Any]:
    page = Paginator(selectors.list_deliveries(webhook), LOG_PAGE).get_page(request.GET.get("page"))
    deliveries = list(page.object_list)
    return {
        "webhook": webhook,
        "page": page,
        "deliveries": deliveries,
        "waiting": any(
            d.status in {WebhookDeliveryStatus.PENDING, WebhookDeliveryStatus.SENDING}
            for d in deliveries
        ),
    }


@member_required(may=Capability.MANAGE_SETTINGS)
def webhook_detail(request: MemberHttpRequest, webhook_id: UUID) -> HttpResponse:
    """Admin: one webhook's settings and its delivery log (the log alone for htmx)."""
    webhook = _get(webhook_id)
    if webhook is None:
        return not_found_page(request, "That webhook")
    if request.htmx and request.method == "GET":
        response = render(
            request, "automation/webhook_detail.html#delivery_log", _log_context(request, webhook)
        )
        response["Vary"] = "HX-Request"
        return response
    form = WebhookForm(
        request.POST or None,
        initial={
            "url": webhook.url,
            "description": webhook.description,
            "events": webhook.events,
            "is_active": webhook.is_active,
        },
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.update_webhook(
                    webhook=webhook, actor=request.membership, **form.cleaned_data
                )
            except DomainError as error:
                form.add_error("url", str(error))
            else:
                messages.success(request, "Webhook saved.")
                return redirect("automation-webhooks:webhook-detail", webhook.id)
        status = 400
    response = render(
        request,
        "automation/webhook_detail.html",
        {**_log_context(request, webhook), "form": form},
        status=status,
    )
    response["Vary"] = "HX-Request"
    return response


@require_POST
@member_required(may=Capability.MANAGE_SETTINGS)
def webhook_test(request: MemberHttpRequest, webhook_id: UUID) -> HttpResponse:
    """Admin: send a test delivery; htmx gets the delivery log back (it refreshes itself
    until the test is answered)."""
    webhook = _get(webhook_id)
    if webhook is None:
        return not_found_page(request, "That webhook")
    services.send_test(webhook=webhook, actor=request.membership)
    if request.htmx:
        return render(
            request, "automation/webhook_detail.html#delivery_log", _log_context(request, webhook)
        )
    messages.success(request, "Test delivery queued: its result shows in the log below.")
    return redirect("automation-webhooks:webhook-detail", webhook.id)


@require_POST
@member_required(may=Capability.MANAGE_SETTINGS)
def webhook_rotate_secret(request: MemberHttpRequest, webhook_id: UUID) -> HttpResponse:
    """Admin: a new signing secret, shown this once."""
    webhook = _get(webhook_id)
    if webhook is None:
        return not_found_page(request, "That webhook")
    secret = services.rotate_webhook_secret(webhook=webhook, actor=request.membership)
    form = WebhookForm(
        initial={
            "url": webhook.url,
            "description": webhook.description,
            "events": webhook.events,
            "is_active": webhook.is_active,
        }
    )
    return render(
        request,
        "automation/webhook_detail.html",
        {**_log_context(request, webhook), "form": form, "new_secret": secret},
    )


@require_POST
@member_required(may=Capability.MANAGE_SETTINGS)
def webhook_delete(request: MemberHttpRequest, webhook_id: UUID) -> HttpResponse:
    webhook = _get(webhook_id)
    if webhook is None:
        return not_found_page(request, "That webhook")
    services.delete_webhook(webhook=webhook, actor=request.membership)
    messages.success(request, f"Webhook {webhook.url} deleted.")
    return redirect("automation-webhooks:webhooks")
