"""Agent pages: the notification list, its badge, and each agent's notification settings."""

from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from helpdesk.accounts.activity import passive
from helpdesk.tenancy.decorators import member_required
from helpdesk.tenancy.http import MemberHttpRequest
from tickets.models import (
    NotificationKind,
)
from tickets.notifications import services as notifications


@member_required
def notification_list(request: MemberHttpRequest) -> HttpResponse:
    """The agent's notifications, newest first; unread ones marked."""
    membership = request.membership
    unread_only = request.GET.get("unread") == "1"
    page = Paginator(
        notifications.list_notifications(membership, unread_only=unread_only), 30
    ).get_page(request.GET.get("page"))
    return render(
        request,
        "tickets/notifications.html",
        {"page": page, "unread_only": unread_only},
    )


@passive
@member_required
def notification_badge(request: MemberHttpRequest) -> HttpResponse:
    """The unread count in the top bar (loaded and refreshed by htmx)."""
    count = notifications.unread_count(request.membership)
    return render(request, "tickets/notification_badge.html", {"count": count})


@member_required
@require_POST
def notifications_read(request: MemberHttpRequest) -> HttpResponse:
    membership = request.membership
    ids: list[UUID] | None = None
    if request.POST.getlist("ids"):
        try:
            ids = [UUID(i) for i in request.POST.getlist("ids")]
        except ValueError:
            messages.error(request, "Those notifications are not valid.")
            return redirect("tickets:notifications")
    notifications.mark_notifications_read(member=membership, ids=ids)
    return redirect("tickets:notifications")


@member_required
def notification_settings(request: MemberHttpRequest) -> HttpResponse:
    """The agent's email notifications, one switch per kind."""
    member = request.membership
    if request.method == "POST":
        for kind in NotificationKind.values:
            notifications.set_email_enabled(
                member=member, kind=kind, enabled=request.POST.get(kind) == "on"
            )
        messages.success(request, "Notification settings saved.")
        return redirect("tickets:notification-settings")
    current = notifications.settings_for(member)
    rows = [(kind, label, current[kind]) for kind, label in NotificationKind.choices]
    return render(request, "tickets/notification_settings.html", {"rows": rows})
