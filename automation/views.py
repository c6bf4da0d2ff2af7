"""Canned responses (the management page, the reply-editor picker, save a reply as one),
SLA policies (admin page) and a ticket's SLA panel."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from automation import selectors, services
from automation.errors import CannedResponseNotFound, SlaPolicyNotFound
from automation.forms import CannedResponseForm, SlaPolicyForm, format_minutes
from automation.models import SlaMetric, SlaPolicy
from departments import selectors as department_selectors
from helpdesk.accounts.activity import passive
from helpdesk.core.errors import DomainError
from helpdesk.core.views import not_found_page
from helpdesk.tenancy import permissions
from helpdesk.tenancy.decorators import member_required
from helpdesk.tenancy.http import MemberHttpRequest
from helpdesk.tenancy.permissions import Capability
from tickets.configuration import services as configuration
from tickets.errors import MessageNotFound, TicketNotFound
from tickets.models import Ticket
from tickets.ticket import selectors as ticket_selectors


@member_required
def canned_responses(request: MemberHttpRequest, response_id: UUID | None = None) -> HttpResponse:
    """List the member's responses; create one, or edit the one in the URL."""
    member = request.membership
    editing = None
    if response_id is not None:
        try:
            editing = selectors.get_canned_response(member=member, response_id=response_id)
        except CannedResponseNotFound:
            return not_found_page(request, "That response")
    initial = (
        {
            "title": editing.title,
            "body": editing.body,
            "scope": editing.scope,
            "department": editing.department_id,
        }
        if editing
        else {}
    )
    form = CannedResponseForm(
        request.POST or None,
        initial=initial,
        departments=department_selectors.list_departments(),
        may_share=permissions.can_manage_shared_responses(member),
    )
    if request.method == "POST" and form.is_valid():
        try:
            if editing:
                services.update_canned_response(response=editing, actor=member, **form.cleaned_data)
            else:
                services.create_canned_response(actor=member, **form.cleaned_data)
            messages.success(request, "Canned response saved.")
            return redirect("automation:canned-responses")
        except DomainError as error:
            form.add_error(None, str(error))
    query = request.GET.get("q", "").strip()[:200]
    return render(
        request,
        "automation/canned_responses.html",
        {
            "form": form,
            "editing": editing,
            "query": query,
            "responses": list(selectors.list_canned_responses(member=member, query=query)),
        },
        status=400 if form.errors else 200,
    )


@member_required
@require_POST
def canned_response_delete(request: MemberHttpRequest, response_id: UUID) -> HttpResponse:
    member = request.membership
    try:
        response = selectors.get_canned_response(member=member, response_id=response_id)
        services.delete_canned_response(response=response, actor=member)
        messages.success(request, f"Deleted “{response.title}”.")
    except CannedResponseNotFound:
        return not_found_page(request, "That response")
    except DomainError as error:
        messages.error(request, str(error))
    return redirect("automation:canned-responses")


@member_required
def canned_picker(request: MemberHttpRequest, number: int) -> HttpResponse:
    """The reply editor's search list (htmx fragment)."""
    member = request.membership
    query = request.GET.get("q", "")[:200].strip()
    responses = list(selectors.list_canned_responses(member=member, query=query)[:20])
    # An empty list says why: nothing matches, or there is nothing yet (and how to make one).
    has_any = bool(responses) or (
        bool(query) and selectors.list_canned_responses(member=member).exists()
    )
    return render(
        request,
        "automation/canned_picker.html",
        {"responses": responses, "number": number, "query": query, "has_any": has_any},
    )


@member_required
def canned_insert(request: MemberHttpRequest, number: int, response_id: UUID) -> HttpResponse:
    """The reply textarea with the rendered response appended (htmx swaps it in)."""
    member = request.membership
    try:
        ticket = ticket_selectors.get_ticket_by_number(number)
        response = selectors.get_canned_response(member=member, response_id=response_id)
    except (TicketNotFound, CannedResponseNotFound):
        return HttpResponse("Not found.", status=404)
    text = services.render_canned_response(
        response=response, ticket=ticket, agent=member, tenant_name=request.tenant.name
    )
    current = request.GET.get("body", "").rstrip()
    body = f"{current}\n\n{text}" if current else text
    return render(request, "automation/reply_body.html", {"body": body})


@member_required
@require_POST
def save_reply(request: MemberHttpRequest, message_id: UUID) -> HttpResponse:
    """Keep a sent reply as a personal canned response."""
    member = request.membership
    try:
        message = ticket_selectors.get_message(message_id)
    except MessageNotFound:
        return not_found_page(request, "That message")
    title = (request.POST.get("title") or message.ticket.subject).strip()[:120]
    try:
        services.save_reply_as_canned_response(message=message, title=title, actor=member)
        messages.success(request, f"Saved as canned response “{title}”.")
    except DomainError as error:
        messages.error(request, str(error))
    return redirect("tickets:ticket-detail", number=message.ticket.number)


def _policy_initial(policy: SlaPolicy) -> dict[str, Any]:
    return {
        name: getattr(policy, name)
        for name in services.POLICY_FIELDS
        if name not in {"department", "ticket_type", "business_hours"}
    } | {
        "department": policy.department_id,
        "ticket_type": policy.ticket_type_id,
        "business_hours": policy.business_hours_id,
    }


@member_required(may=Capability.MANAGE_SETTINGS)
def sla_policies(request: MemberHttpRequest, policy_id: UUID | None = None) -> HttpResponse:
    """Admin: the SLA policies in matching order; create one, or edit the one in the URL."""
    editing = None
    if policy_id is not None:
        try:
            editing = selectors.get_sla_policy(policy_id)
        except SlaPolicyNotFound:
            return not_found_page(request, "That SLA policy")
    labels = configuration.priority_labels()
    form = SlaPolicyForm(
        request.POST or None,
        initial=_policy_initial(editing)
        if editing
        else {"is_active": True, "position": _next_policy_position()},
        departments=department_selectors.list_departments(),
        ticket_types=configuration.list_ticket_types(),
        business_hours=department_selectors.list_business_hours(),
        priority_labels=labels,
    )
    if request.method == "POST" and form.is_valid():
        try:
            policy = services.save_sla_policy(
                actor=request.membership,
                policy=editing,
                **form.cleaned_data,
            )
            messages.success(request, f"SLA policy “{policy.name}” saved.")
            blocker = selectors.shadowed_policies(list(selectors.list_sla_policies())).get(
                policy.id
            )
            if blocker is not None:
                messages.warning(
                    request,
                    f"“{policy.name}” can never apply: “{blocker.name}” comes before it and "
                    "matches every ticket. Move it before, below in the list.",
                )
            return redirect("automation:sla-policies")
        except DomainError as error:
            form.add_error(None, str(error))
    policies = [_describe(policy, labels) for policy in selectors.list_sla_policies()]
    shadowed = selectors.shadowed_policies(policies)
    for policy in policies:
        policy.shadowed_by = shadowed.get(policy.id)  # type: ignore[attr-defined]
    return render(
        request,
        "automation/sla_policies.html",
        {"form": form, "editing": editing, "policies": policies},
        status=400 if form.errors else 200,
    )


def _next_policy_position() -> int:
    """A new policy goes last: policies are tried lowest position first."""
    return max((p.position for p in selectors.list_sla_policies()), default=-1) + 1


def _describe(policy: SlaPolicy, labels: dict[str, str]) -> SlaPolicy:
    policy.priority_names = [labels.get(p, p) for p in policy.priorities]  # type: ignore[attr-defined]
    policy.targets_text = " · ".join(  # type: ignore[attr-defined]
        f"{label.lower()} {format_minutes(policy.target_minutes(metric))}"
        for metric, label in SlaMetric.choices
        if policy.target_minutes(metric)
    )
    return policy


@member_required(may=Capability.MANAGE_SETTINGS)
@require_POST
def sla_policy_move(request: MemberHttpRequest, policy_id: UUID) -> HttpResponse:
    """Move a policy before another one (the catch-all that hides it)."""
    try:
        policy = selectors.get_sla_policy(policy_id)
        before = selectors.get_sla_policy(UUID(request.POST.get("before", "")))
    except (SlaPolicyNotFound, ValueError):
        return not_found_page(request, "That SLA policy")
    services.move_sla_policy_before(policy=policy, before=before, actor=request.membership)
    messages.success(request, f"“{policy.name}” now comes before “{before.name}”.")
    return redirect("automation:sla-policies")


@member_required(may=Capability.MANAGE_SETTINGS)
@require_POST
def sla_policy_delete(request: MemberHttpRequest, policy_id: UUID) -> HttpResponse:
    try:
        policy = selectors.get_sla_policy(policy_id)
    except SlaPolicyNotFound:
        return not_found_page(request, "That SLA policy")
    services.delete_sla_policy(policy=policy, actor=request.membership)
    messages.success(request, f"SLA policy “{policy.name}” deleted.")
    return redirect("automation:sla-policies")


@passive
@member_required
def ticket_sla(request: MemberHttpRequest, number: int) -> HttpResponse:
    """The ticket page's SLA panel on its own (htmx, every minute): the page draws it first
    (`{% ticket_sla_panel %}`)."""
    try:
        ticket = ticket_selectors.get_ticket_by_number(number)
    except TicketNotFound:
        return HttpResponse("Not found.", status=404)
    response = render(request, "automation/ticket_sla.html", sla_panel(ticket))
    response["Vary"] = "HX-Request"
    return response


def sla_panel(ticket: Ticket) -> dict[str, Any]:
    """What the SLA panel shows: every target of the ticket, met, missed or running."""
    now = timezone.now()
    timers = list(selectors.list_ticket_timers(ticket.id))
    for timer in timers:
        timer.current_state = timer.state(now)  # type: ignore[attr-defined]
        timer.remaining_text = (  # type: ignore[attr-defined]
            format_minutes(max(timer.remaining_seconds, 0) // 60) or "0m"
        )
    return {"ticket": ticket, "timers": timers, "now": now}
