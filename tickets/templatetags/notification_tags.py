"""`{% notification_badge %}`: the top bar's link to the notifications with the member's
unread count, drawn with the page (htmx refreshes it from the badge view every 30 s)."""

from __future__ import annotations

from typing import Any

from django import template

from tickets.notifications import services as notifications

register = template.Library()


@register.inclusion_tag("tickets/notification_badge.html", takes_context=True)
def notification_badge(context: template.Context) -> dict[str, Any]:
    membership = context.get("membership")
    return {"count": notifications.unread_count(membership) if membership is not None else 0}
