"""API of the inbox: bulk actions and saved views."""

from __future__ import annotations

from uuid import UUID

from drf_spectacular.utils import extend_schema
from rest_framework import status as http
from rest_framework.request import Request
from rest_framework.response import Response

from helpdesk.api.views import TenantAPIView
from helpdesk.tenancy.http import MemberRequest
from tickets.inbox import services as inbox
from tickets.inbox.serializers import (
    BulkActionInput,
    BulkActionOutput,
    SavedViewInput,
    SavedViewOutput,
)


class BulkActionAPI(TenantAPIView):
    @extend_schema(request=BulkActionInput, responses=BulkActionOutput)
    def post(self, request: MemberRequest) -> Response:
        """One action on many tickets; each succeeds or fails on its own."""
        data = self.validate(BulkActionInput, request.data)
        action = data["action"]
        value = inbox.bulk_value(action, data.get("value") or "", self.membership)
        result = inbox.bulk_update(
            numbers=data["tickets"],
            action=action,
            value=value,
            actor=self.membership,
            language=request.tenant.language,
        )
        return Response(
            {
                "done": result.done,
                "failed": [{"ticket": n, "message": m} for n, m in result.failed],
            }
        )


class SavedViewListAPI(TenantAPIView):
    pagination_class = None  # a short list, whole: a plain array

    @extend_schema(responses=SavedViewOutput(many=True))
    def get(self, request: Request) -> Response:
        """The caller's saved views and the team's shared ones."""
        views = inbox.list_saved_views(self.membership)
        return Response(SavedViewOutput(views, many=True).data)

    @extend_schema(request=SavedViewInput, responses={201: SavedViewOutput})
    def post(self, request: Request) -> Response:
        data = self.validate(SavedViewInput, request.data)
        view = inbox.save_view(owner=self.membership, **data)
        return Response(SavedViewOutput(view).data, status=http.HTTP_201_CREATED)


class SavedViewDetailAPI(TenantAPIView):
    @extend_schema(responses=SavedViewOutput)
    def get(self, request: Request, view_id: UUID) -> Response:
        return Response(SavedViewOutput(inbox.get_saved_view(view_id, reader=self.membership)).data)

    @extend_schema(request=SavedViewInput, responses=SavedViewOutput)
    def put(self, request: Request, view_id: UUID) -> Response:
        data = self.validate(SavedViewInput, request.data)
        view = inbox.get_saved_view(view_id, reader=self.membership)
        view = inbox.save_view(owner=self.membership, view=view, **data)
        return Response(SavedViewOutput(view).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, view_id: UUID) -> Response:
        view = inbox.get_saved_view(view_id, reader=self.membership)
        inbox.delete_view(view=view, actor=self.membership)
        return Response(status=http.HTTP_204_NO_CONTENT)
