"""The unified inbox: views, filters and sorts, bulk actions, saved views."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from departments import selectors as department_selectors
from helpdesk.core.errors import DomainError
from helpdesk.tenancy import permissions
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.decorators import member_required
from helpdesk.tenancy.http import MemberHttpRequest
from tickets.configuration import services as configuration
from tickets.inbox import labels, rows
from tickets.inbox import services as inbox
from tickets.models import CustomFieldTarget, TicketStatus
from tickets.sla import selectors as sla
from tickets.ticket import selectors


@member_required
def home(request: MemberHttpRequest) -> HttpResponse:
    return redirect("tickets:inbox")


# Filters the inbox's filter form has a control for (besides the custom fields).
FILTER_CONTROLS = frozenset(
    {
        "status",
        "priority",
        "assignee",
        "department",
        "type",
        "tag",
        "sla",
        "due",
        "created_after",
        "created_before",
        "q",
    }
)


@member_required
def inbox_page(request: MemberHttpRequest) -> HttpResponse:
    """The unified inbox: a built-in or saved view, refined by filters, sorted, paginated."""
    membership = request.membership
    language = request.tenant.language
    params = {key: request.GET.get(key, "") for key in request.GET}
    query = params.get("q", "").strip()[:500]
    if params.pop("searched", "") and query and params.pop("within", "") != "1":
        # The search box searches every ticket, whatever view it was typed in, unless
        # the agent ticked "only in this view".
        params = {"q": query, **({"sort": params["sort"]} if params.get("sort") else {})}
    error = None
    if query.startswith("#") and query[1:].isascii() and query[1:].isdigit() and len(query) < 12:
        if selectors.ticket_number_exists(int(query[1:])):
            return redirect("tickets:ticket-detail", number=int(query[1:]))
        error = f"There is no ticket {query}."
        params = {}
    try:
        key, title, filters, sort, tickets = inbox.inbox_tickets(
            params, reader=membership, language=language
        )
    except DomainError as domain_error:
        error = str(domain_error)
        key, title, filters, sort, tickets = inbox.inbox_tickets(
            {}, reader=membership, language=language
        )
    agents = list(tenancy_selectors.list_agents())
    now = timezone.now()
    # A narrow query (the customer joined, nothing else): the assignee and the custom
    # status come from lists already loaded, which keeps planning and building cheap.
    page = _page(
        tickets.select_related(None).select_related("contact"), request.GET.get("page", "1")
    )
    rows.attach_row_relations(page.object_list, agents)
    fields = configuration.list_custom_fields(CustomFieldTarget.TICKET)
    field_filters = [(field, filters.get(inbox.CUSTOM_PREFIX + field.key, "")) for field in fields]
    shown = FILTER_CONTROLS | {inbox.CUSTOM_PREFIX + field.key for field in fields}
    # What the URL filters, readable and each removable (a report's drill-down says why
    # these tickets are listed); none when the filters were refused.
    chips = (
        []
        if error
        else labels.filter_chips(
            params,
            agents=agents,
            reader=membership,
            field_labels={field.key: field.label for field in fields},
        )
    )
    context = {
        "page": page,
        # The rows are built in Python (tickets/inbox/rows.py): the same markup the row
        # template gave, without the template engine's cost for fifty rows.
        "rows": rows.render_inbox_rows(
            page.object_list, selectable=permissions.can_change_tickets(membership), now=now
        ),
        # The filter form's controls, and what it carries along unseen (customer, company,
        # channel, …) so that Apply never drops a filter; the search keeps them all.
        "field_filters": field_filters,
        "hidden_filters": {k: v for k, v in filters.items() if k not in shown},
        "search_scope": {k: v for k, v in filters.items() if k != "q"},
        "views": inbox.BUILT_IN_VIEWS,
        "saved_views": list(inbox.list_saved_views(membership)),
        "departments": department_selectors.cached_departments(),
        "tags": selectors.list_tags(),
        "view_key": key,
        "title": title,
        "query": query,
        "searched_all": bool(query) and key == "all" and set(filters) == {"q"},
        "filters": filters,
        "sort": sort,
        "sorts": inbox.SORT_LABELS,
        "due_states": inbox.DUE_STATES,
        "sla_states": sla.SLA_STATES,
        "statuses": TicketStatus.choices,
        "priorities": configuration.priority_levels(),
        "agents": agents,
        "types": configuration.active_ticket_types(),
        "filter_error": error,
        "filter_chips": chips,
        "clear_filters_query": labels.clear_query(params),
        "base_query": urlencode({k: v for k, v in request.GET.dict().items() if k != "page"}),
        "now": now,
    }
    template = "tickets/inbox.html#ticket_list" if request.htmx else "tickets/inbox.html"
    response = render(request, template, context, status=400 if error else 200)
    response["Vary"] = "HX-Request"
    return response


@dataclass
class _Page:
    """A page of a list without counting the whole list (one row more tells if there is a
    next page): a count over a million tickets would cost more than the page itself."""

    object_list: list[Any]
    number: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_other_pages(self) -> bool:
        return self.has_next or self.has_previous

    @property
    def next_page_number(self) -> int:
        return self.number + 1

    @property
    def previous_page_number(self) -> int:
        return self.number - 1


def _page(rows: Any, raw_number: str, size: int = 50) -> _Page:
    digits = raw_number.isascii() and raw_number.isdigit()
    number = int(raw_number) if digits and 0 < int(raw_number) < 10_000 else 1
    fetched = list(rows[(number - 1) * size : number * size + 1])
    return _Page(fetched[:size], number, len(fetched) > size)


@member_required
@require_POST
def inbox_bulk(request: MemberHttpRequest) -> HttpResponse:
    """Apply one action to the selected tickets, then back to the same inbox view."""
    membership = request.membership
    numbers = [int(n) for n in request.POST.getlist("tickets") if n.isascii() and n.isdigit()]
    action = request.POST.get("action", "")
    back = request.POST.get("next", "")
    back = back if back.startswith("/inbox/") else reverse("tickets:inbox")
    if not numbers:
        messages.error(request, "Select tickets first.")
        return redirect(back)
    try:
        value = inbox.bulk_value(action, request.POST.get("value", ""), membership)
        result = inbox.bulk_update(
            numbers=numbers,
            action=action,
            value=value,
            actor=membership,
            language=request.tenant.language,
        )
    except DomainError as error:
        messages.error(request, str(error))
        return redirect(back)
    if result.done and action == "merge":
        others = ", ".join(f"#{n}" for n in result.done[1:])
        messages.success(request, f"Merged {others} into #{result.done[0]}.")
    elif result.done:
        count = len(result.done)
        messages.success(request, f"Updated {count} ticket{'' if count == 1 else 's'}.")
    for number, reason in result.failed:
        messages.error(request, f"#{number}: {reason}")
    return redirect(back)


@member_required
@require_POST
def saved_view_create(request: MemberHttpRequest) -> HttpResponse:
    """Save the current filters and sort as a named view."""
    membership = request.membership
    filters = inbox.filter_params({k: request.POST.get(k, "") for k in request.POST})
    try:
        view = inbox.save_view(
            owner=membership,
            name=request.POST.get("name", ""),
            filters=filters,
            sort=request.POST.get("sort", "-updated") or "-updated",
            is_shared=request.POST.get("is_shared") == "on",
        )
    except DomainError as error:
        messages.error(request, str(error))
        return redirect(f"{reverse('tickets:inbox')}?{urlencode(filters)}")
    messages.success(request, f"View “{view.name}” saved.")
    return redirect(f"{reverse('tickets:inbox')}?saved={view.id}")


@member_required
@require_POST
def saved_view_delete(request: MemberHttpRequest, view_id: UUID) -> HttpResponse:
    membership = request.membership
    try:
        inbox.delete_view(view=inbox.get_saved_view(view_id, reader=membership), actor=membership)
        messages.success(request, "View deleted.")
    except DomainError as error:
        messages.error(request, str(error))
    return redirect("tickets:inbox")
