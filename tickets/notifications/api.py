"""API: an agent's notifications and notification settings."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from helpdesk.api.views import TenantAPIView
from tickets.notifications import services as notifications
from tickets.notifications.serializers import (
    NotificationOutput,
    NotificationReadInput,
    NotificationSettingsData,
    UnreadCountOutput,
)


class NotificationListAPI(TenantAPIView):
    @extend_schema(responses=NotificationOutput(many=True))
    def get(self, request: Request) -> Response:
        """The caller's notifications, newest first (`?unread=1` for unread only)."""
        entries = notifications.list_notifications(
            self.membership, unread_only=request.query_params.get("unread") == "1"
        )
        return self.paginate(request, entries, NotificationOutput)


class NotificationReadAPI(TenantAPIView):
    @extend_schema(request=NotificationReadInput, responses=UnreadCountOutput)
    def post(self, request: Request) -> Response:
        """Mark notifications read (all without ids); answers with the unread count left."""
        data = self.validate(NotificationReadInput, request.data)
        notifications.mark_notifications_read(member=self.membership, ids=data.get("ids"))
        return Response({"unread": notifications.unread_count(self.membership)})


class NotificationUnreadCountAPI(TenantAPIView):
    @extend_schema(responses=UnreadCountOutput)
    def get(self, request: Request) -> Response:
        return Response({"unread": notifications.unread_count(self.membership)})


class NotificationSettingsAPI(TenantAPIView):
    """The caller's email notifications: which kinds are sent."""

    @extend_schema(responses=NotificationSettingsData)
    def get(self, request: Request) -> Response:
        return Response(notifications.settings_for(self.membership))

    @extend_schema(request=NotificationSettingsData, responses=NotificationSettingsData)
    def patch(self, request: Request) -> Response:
        data = self.validate(NotificationSettingsData, request.data)
        for kind, enabled in data.items():
            notifications.set_email_enabled(member=self.membership, kind=kind, enabled=enabled)
        return Response(notifications.settings_for(self.membership))
