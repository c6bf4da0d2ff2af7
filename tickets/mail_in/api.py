"""API of the inbound log: received emails, their raw bytes and retries."""

from __future__ import annotations

from uuid import UUID

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status as http
from rest_framework.request import Request
from rest_framework.response import Response

from departments import selectors as department_selectors
from helpdesk.api.permissions import IsTenantAdmin, IsTenantMember
from helpdesk.api.views import TenantAPIView
from tickets.mail_in import imap_client, intake
from tickets.mail_in import selectors as mail_in_selectors
from tickets.mail_in.serializers import ImapCheckOutput, InboundEmailListQuery, InboundEmailOutput


class InboundEmailListAPI(TenantAPIView):
    """The inbound log (admins): every received mail with its status and reason."""

    permission_classes = [IsTenantMember, IsTenantAdmin]

    @extend_schema(parameters=[InboundEmailListQuery], responses=InboundEmailOutput(many=True))
    def get(self, request: Request) -> Response:
        query = self.validate(InboundEmailListQuery, request.query_params)
        return self.paginate(
            request,
            mail_in_selectors.list_inbound_emails(status=query.get("status")),
            InboundEmailOutput,
        )


class InboundEmailDetailAPI(TenantAPIView):
    permission_classes = [IsTenantMember, IsTenantAdmin]

    @extend_schema(responses=InboundEmailOutput)
    def get(self, request: Request, email_id: UUID) -> Response:
        return Response(InboundEmailOutput(mail_in_selectors.get_inbound_email(email_id)).data)


class InboundEmailRawAPI(TenantAPIView):
    permission_classes = [IsTenantMember, IsTenantAdmin]

    @extend_schema(responses={(200, "message/rfc822"): OpenApiTypes.BINARY})
    def get(self, request: Request, email_id: UUID) -> HttpResponse:
        email = mail_in_selectors.get_inbound_email(email_id)
        response = HttpResponse(bytes(email.raw), content_type="message/rfc822")
        response["Content-Disposition"] = f'attachment; filename="{email.id}.eml"'
        return response


class InboundEmailRetryAPI(TenantAPIView):
    permission_classes = [IsTenantMember, IsTenantAdmin]

    @extend_schema(request=None, responses={202: InboundEmailOutput})
    def post(self, request: Request, email_id: UUID) -> Response:
        email = intake.retry_inbound_email(
            email=mail_in_selectors.get_inbound_email(email_id), actor=self.membership
        )
        return Response(InboundEmailOutput(email).data, status=http.HTTP_202_ACCEPTED)


class MailboxImapCheckAPI(TenantAPIView):
    permission_classes = [IsTenantMember, IsTenantAdmin]

    @extend_schema(request=None, responses=ImapCheckOutput)
    def post(self, request: Request, mailbox_id: UUID) -> Response:
        """Log in with the mailbox's stored IMAP settings and open its folders; changes
        nothing. `ok` false with the problem worded for the admin (200: the check ran)."""
        mailbox = department_selectors.get_mailbox(mailbox_id)
        problem = imap_client.check_settings(
            mailbox=mailbox,
            host=mailbox.imap_host,
            port=mailbox.imap_port,
            security=mailbox.imap_security,
            username=mailbox.imap_username,
            password="",
            folder=mailbox.imap_folder,
            archive_folder=mailbox.imap_archive_folder,
        )
        return Response(ImapCheckOutput({"ok": not problem, "error": problem}).data)
