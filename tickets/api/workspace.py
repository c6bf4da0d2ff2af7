"""API for the agent workspace: bulk actions, merge and split, "open it and you own it",
presence, saved views and the in-app notification list."""

from __future__ import annotations

from uuid import UUID

from drf_spectacular.utils import extend_schema
from rest_framework import status as http
from rest_framework.request import Request
from rest_framework.response import Response

from helpdesk.api.views import TenantAPIView
from helpdesk.tenancy import permissions
from helpdesk.tenancy.http import MemberRequest
from helpdesk.tenancy.permissions import Capability
from tickets import inbox, merging, presence, selectors, services
from tickets.errors import ReplyNotAllowed, TicketNotFound
from tickets.serializers import (
    BulkActionInput,
    BulkActionOutput,
    MergeInput,
    OpenTicketOutput,
    PresenceInput,
    PresenceOutput,
    SavedViewInput,
    SavedViewOutput,
    TicketOutput,
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


class TicketMergeAPI(TenantAPIView):
    @extend_schema(request=MergeInput, responses=TicketOutput)
    def post(self, request: MemberRequest, number: int) -> Response:
        """Merge this ticket into `into`; answers with the surviving ticket."""
        data = self.validate(MergeInput, request.data)
        permissions.require(self.membership, Capability.CHANGE_TICKETS, ReplyNotAllowed())
        survivor = merging.merge_tickets(
            survivor=selectors.get_ticket_by_number(data["into"]),
            others=[selectors.get_ticket_by_number(number)],
            actor=self.membership,
            language=request.tenant.language,
        )
        return Response(TicketOutput(selectors.get_ticket_by_number(survivor.number)).data)


class MessageSplitAPI(TenantAPIView):
    @extend_schema(request=None, responses={201: TicketOutput})
    def post(self, request: MemberRequest, number: int, message_id: UUID) -> Response:
        """Move one customer message into a new ticket."""
        permissions.require(self.membership, Capability.CHANGE_TICKETS, ReplyNotAllowed())
        ticket = selectors.get_ticket_by_number(number)
        message = selectors.get_message(message_id)
        if message.ticket_id != ticket.id:
            raise TicketNotFound(number=number)
        new = merging.split_message(
            message=message, actor=self.membership, language=request.tenant.language
        )
        return Response(
            TicketOutput(selectors.get_ticket_by_number(new.number)).data,
            status=http.HTTP_201_CREATED,
        )


class TicketOpenAPI(TenantAPIView):
    @extend_schema(request=None, responses=OpenTicketOutput)
    def post(self, request: Request, number: int) -> Response:
        """What opening the ticket page does: mark it read and, with "open it and you own
        it" on, take an unassigned ticket."""
        ticket = selectors.get_ticket_by_number(number)
        assigned = services.open_ticket(ticket=ticket, member=self.membership)
        return Response(
            {
                "assigned": assigned,
                "ticket": TicketOutput(selectors.get_ticket_by_number(number)).data,
            }
        )


class TicketPresenceAPI(TenantAPIView):
    pagination_class = None  # a short list, whole: a plain array

    @extend_schema(responses=PresenceOutput(many=True))
    def get(self, request: MemberRequest, number: int) -> Response:
        """Who else is on the ticket now."""
        ticket = selectors.get_ticket_by_number(number)
        others = presence.others_present(
            tenant_id=request.tenant.id, ticket_id=ticket.id, member=self.membership
        )
        return Response(PresenceOutput(others, many=True).data)

    @extend_schema(request=PresenceInput, responses=PresenceOutput(many=True))
    def post(self, request: MemberRequest, number: int) -> Response:
        """Say the caller is viewing or replying (repeat every few seconds), or has left;
        answers with who else is there."""
        data = self.validate(PresenceInput, request.data)
        ticket = selectors.get_ticket_by_number(number)
        if data["state"] == "left":
            presence.leave(tenant_id=request.tenant.id, ticket_id=ticket.id, member=self.membership)
        else:
            presence.touch(
                tenant_id=request.tenant.id,
                ticket_id=ticket.id,
                member=self.membership,
                state=data["state"],
            )
        return self.get(request, number)


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
