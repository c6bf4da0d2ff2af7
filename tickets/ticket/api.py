"""Tickets API: /api/v1/tickets/ and /api/v1/tickets/<number>/(messages/)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from drf_spectacular.utils import extend_schema
from rest_framework import status as http
from rest_framework.request import Request
from rest_framework.response import Response

from departments import selectors as department_selectors
from departments.errors import DepartmentNotFound
from departments.models import Department
from helpdesk.api.pagination import IdCursorPagination
from helpdesk.api.views import TenantAPIView
from helpdesk.tenancy import permissions
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.http import MemberRequest
from helpdesk.tenancy.permissions import Capability
from tickets.articles import services as article_services
from tickets.configuration import services as configuration
from tickets.errors import ReplyNotAllowed, TicketNotFound
from tickets.inbox import services as inbox
from tickets.satisfaction import selectors as satisfaction_selectors
from tickets.sla import selectors as sla
from tickets.ticket import merging, presence, selectors, services
from tickets.ticket.serializers import (
    FollowerAddInput,
    FollowerOutput,
    MergeInput,
    MessageCreateInput,
    MessageForwardInput,
    MessageOutput,
    OpenTicketOutput,
    PresenceInput,
    PresenceOutput,
    TicketCreateInput,
    TicketDetailOutput,
    TicketListQuery,
    TicketOutput,
    TicketUpdateInput,
)

API_SORTS = {
    "-created": ("-id",),
    "created": ("id",),
    "-updated": ("-updated_at", "-id"),
    "-priority": ("-priority_rank", "-id"),
    "due": ("due_at", "id"),
    "sla": sla.SLA_CURSOR_ORDERING,
}


def _department(value: str) -> Department:
    try:
        return department_selectors.get_department(UUID(value))
    except ValueError:
        department = department_selectors.find_department_by_name(value)
        if department is None:
            raise DepartmentNotFound(name=value) from None
        return department


class TicketListAPI(TenantAPIView):
    @extend_schema(parameters=[TicketListQuery], responses=TicketOutput(many=True))
    def get(self, request: MemberRequest) -> Response:
        """Tickets by the inbox's filters: a built-in `view` or a `saved` view, refined by
        any filter parameter (custom fields as `cf_<key>`), cursor-paginated in `sort`
        order."""
        self.validate(TicketListQuery, request.query_params)
        params = {key: request.query_params.get(key, "") for key in request.query_params}
        _, _, _, _, tickets = inbox.inbox_tickets(
            params, reader=self.membership, language=request.tenant.language, default=None
        )
        paginator = IdCursorPagination()
        # DRF takes a tuple too; the stubs say str.
        paginator.ordering = API_SORTS.get(params.get("sort", ""), ("-id",))  # type: ignore[assignment]
        # Cursor pages need a value to continue from: these sorts list dated tickets only.
        if params.get("sort") == "due":
            tickets = tickets.filter(due_at__isnull=False)
        elif params.get("sort") == "sla":
            tickets = sla.with_running_sla(tickets)
        page = paginator.paginate_queryset(tickets, request, view=self)
        data = TicketOutput(page, many=True, context={"request": request}).data
        return paginator.get_paginated_response(data)

    @extend_schema(request=TicketCreateInput, responses={201: TicketOutput})
    def post(self, request: MemberRequest) -> Response:
        """Open a ticket: the customer's request (`direction` inbound, the default; channel
        api), or an email the member sends the customer (`direction` outbound; channel
        email, assigned to the member, waiting on the customer, its first mail queued)."""
        data = self.validate(TicketCreateInput, request.data)
        department = (
            _department(data["department"])
            if data.get("department")
            else department_selectors.get_default_department()
        )
        contact = services.get_or_create_contact(
            email=data["contact_email"], name=data.get("contact_name", "")
        )
        if data["direction"] == "outbound":
            ticket = services.start_outbound_ticket(
                subject=data["subject"],
                body=data["body"],
                contact=contact,
                department=department,
                actor=self.membership,
                priority=data.get("priority", "normal"),
                tags=data.get("tags", ()),
                language=request.tenant.language,
                body_format=data.get("body_format", services.BodyFormat.TEXT),
                cc=data.get("cc", []),
                bcc=data.get("bcc", []),
            )
            ticket = selectors.get_ticket_by_number(ticket.number)
            return Response(TicketOutput(ticket).data, status=http.HTTP_201_CREATED)
        ticket = services.create_ticket(
            subject=data["subject"],
            body=data["body"],
            contact=contact,
            department=department,
            channel="api",
            priority=data.get("priority", "normal"),
            tags=data.get("tags", ()),
            actor=self.membership,
            language=request.tenant.language,
        )
        ticket = selectors.get_ticket_by_number(ticket.number)
        return Response(TicketOutput(ticket).data, status=http.HTTP_201_CREATED)


def _ticket_detail(number: int) -> dict[str, Any]:
    """The ticket as the detail URL shows it: with its satisfaction survey."""
    ticket = selectors.get_ticket_by_number(number)
    survey = satisfaction_selectors.get_ticket_rating(ticket.id)
    return TicketDetailOutput(ticket, context={"satisfaction": survey}).data


class TicketDetailAPI(TenantAPIView):
    @extend_schema(responses=TicketDetailOutput)
    def get(self, request: Request, number: int) -> Response:
        return Response(_ticket_detail(number))

    @extend_schema(request=TicketUpdateInput, responses=TicketDetailOutput)
    def patch(self, request: MemberRequest, number: int) -> Response:
        data = self.validate(TicketUpdateInput, request.data)
        ticket = selectors.get_ticket_by_number(number)
        changes: dict[str, Any] = {
            k: v
            for k, v in data.items()
            if k not in {"department", "assignee", "type", "custom_status"}
        }
        if data.get("type"):
            changes["type"] = configuration.get_ticket_type(data["type"])
        elif "type" in data:
            changes["type"] = None
        if data.get("custom_status"):
            changes["custom_status"] = configuration.get_custom_status(data["custom_status"])
        elif "custom_status" in data:
            changes["custom_status"] = None
        if "department" in data:
            changes["department"] = _department(data["department"])
        if "assignee" in data:
            changes["assignee"] = (
                tenancy_selectors.get_member(data["assignee"]) if data["assignee"] else None
            )
        services.update_ticket(
            ticket=ticket, actor=self.membership, language=request.tenant.language, **changes
        )
        return Response(_ticket_detail(number))


class TicketMessageListAPI(TenantAPIView):
    @extend_schema(responses=MessageOutput(many=True))
    def get(self, request: Request, number: int) -> Response:
        ticket = selectors.get_ticket_by_number(number)
        return self.paginate(request, selectors.list_thread(ticket), MessageOutput)

    @extend_schema(request=MessageCreateInput, responses={201: MessageOutput})
    def post(self, request: MemberRequest, number: int) -> Response:
        data = self.validate(MessageCreateInput, request.data)
        message = services.add_message(
            ticket=selectors.get_ticket_by_number(number),
            kind=data["kind"],
            body=data["body"],
            status=data.get("status"),
            attachments=services.attachments_from_uploads(data.get("attachments", [])),
            seen_up_to=data.get("seen_up_to"),
            actor=self.membership,
            language=request.tenant.language,
            body_format=data["body_format"],
            cc=data.get("cc", []),
            bcc=data.get("bcc", []),
        )
        article_services.record_sent_articles(
            message=message, article_ids=data.get("articles", []), actor=self.membership
        )
        return Response(MessageOutput(message).data, status=http.HTTP_201_CREATED)


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


class MessageForwardAPI(TenantAPIView):
    @extend_schema(request=MessageForwardInput, responses={201: MessageOutput})
    def post(self, request: MemberRequest, number: int, message_id: UUID) -> Response:
        """Email one message of the ticket (with its attachments) to people outside it; it
        stays in the thread as an internal entry of kind forward."""
        data = self.validate(MessageForwardInput, request.data)
        ticket = selectors.get_ticket_by_number(number)
        message = selectors.get_message(message_id)
        if message.ticket_id != ticket.id:
            raise TicketNotFound(number=number)
        forward = services.forward_message(
            ticket=ticket,
            message=message,
            to=data["to"],
            note=data["note"],
            actor=self.membership,
            body_format=data["body_format"],
        )
        return Response(MessageOutput(forward).data, status=http.HTTP_201_CREATED)


class TicketFollowerListAPI(TenantAPIView):
    @extend_schema(responses=FollowerOutput(many=True))
    def get(self, request: Request, number: int) -> Response:
        """The people copied on every public reply of the ticket."""
        ticket = selectors.get_ticket_for_page(number)
        followers = ticket.copied_contacts  # type: ignore[attr-defined]
        return Response(FollowerOutput(followers, many=True).data)

    @extend_schema(request=FollowerAddInput, responses={201: FollowerOutput(many=True)})
    def post(self, request: MemberRequest, number: int) -> Response:
        """Copy people on every public reply from now on; answers with all followers."""
        data = self.validate(FollowerAddInput, request.data)
        services.follow_ticket(
            ticket=selectors.get_ticket_by_number(number),
            emails=data["emails"],
            actor=self.membership,
        )
        ticket = selectors.get_ticket_for_page(number)
        followers = ticket.copied_contacts  # type: ignore[attr-defined]
        return Response(FollowerOutput(followers, many=True).data, status=http.HTTP_201_CREATED)


class TicketFollowerDetailAPI(TenantAPIView):
    @extend_schema(responses={204: None})
    def delete(self, request: MemberRequest, number: int, contact_id: UUID) -> Response:
        """Stop copying this follower on replies."""
        services.unfollow_ticket(
            ticket=selectors.get_ticket_by_number(number),
            contact_id=contact_id,
            actor=self.membership,
        )
        return Response(status=http.HTTP_204_NO_CONTENT)
