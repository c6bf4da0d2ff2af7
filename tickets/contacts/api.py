"""Contacts and companies API: /api/v1/contacts/ and /api/v1/companies/.

Every member may read; changes follow tickets.contacts (light agents get 403).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status as http
from rest_framework.request import Request
from rest_framework.response import Response

from helpdesk.api.permissions import HasCapability
from helpdesk.api.views import TenantAPIView
from helpdesk.tenancy import permissions
from helpdesk.tenancy.http import MemberRequest
from helpdesk.tenancy.permissions import Capability
from tickets.contacts import personal_data
from tickets.contacts import selectors as contact_selectors
from tickets.contacts import services as contacts
from tickets.contacts.serializers import (
    CompanyCreateInput,
    CompanyListQuery,
    CompanyOutput,
    CompanyUpdateInput,
    ContactErasedOutput,
    ContactListQuery,
    ContactMergeInput,
    ContactOutput,
    ContactUpdateInput,
)
from tickets.models import Contact
from tickets.ticket.serializers import TicketOutput


def _contact_changes(contact: Contact, data: dict[str, Any]) -> dict[str, Any]:
    """A PATCH body as update_contact's arguments: what is not sent keeps its value."""
    company = contact.company
    if "company" in data:
        company = contact_selectors.get_company(data["company"]) if data["company"] else None
    return {
        "name": data.get("name", contact.name),
        "email": data.get("email", contact.email),
        "phone": data.get("phone", contact.phone),
        "notes": data.get("notes", contact.notes),
        "company": company,
        "custom_fields": data.get("custom_fields", {}),
    }


class ContactListAPI(TenantAPIView):
    @extend_schema(parameters=[ContactListQuery], responses=ContactOutput(many=True))
    def get(self, request: Request) -> Response:
        query = self.validate(ContactListQuery, request.query_params)
        return self.paginate(
            request, contact_selectors.list_contacts(query.get("q")), ContactOutput
        )


class ContactDetailAPI(TenantAPIView):
    @extend_schema(responses=ContactOutput)
    def get(self, request: Request, contact_id: UUID) -> Response:
        return Response(ContactOutput(contact_selectors.get_contact(contact_id)).data)

    @extend_schema(request=ContactUpdateInput, responses=ContactOutput)
    def patch(self, request: MemberRequest, contact_id: UUID) -> Response:
        data = self.validate(ContactUpdateInput, request.data)
        contact = contact_selectors.get_contact(contact_id)
        contacts.update_contact(
            contact,
            **_contact_changes(contact, data),
            actor=self.membership,
            language=request.tenant.language,
        )
        return Response(ContactOutput(contact_selectors.get_contact(contact_id)).data)


class ContactTicketListAPI(TenantAPIView):
    """Every ticket the contact asked, newest first."""

    @extend_schema(responses=TicketOutput(many=True))
    def get(self, request: Request, contact_id: UUID) -> Response:
        contact = contact_selectors.get_contact(contact_id)
        return self.paginate(
            request, contact_selectors.list_tickets_of_contact(contact), TicketOutput
        )


class ContactMergeAPI(TenantAPIView):
    """Merge a duplicate into this contact; answers with the surviving contact."""

    @extend_schema(request=ContactMergeInput, responses=ContactOutput)
    def post(self, request: MemberRequest, contact_id: UUID) -> Response:
        data = self.validate(ContactMergeInput, request.data)
        survivor = contacts.merge_contacts(
            survivor=contact_selectors.get_contact(contact_id),
            duplicate=contact_selectors.get_contact(data["duplicate"]),
            actor=self.membership,
            language=request.tenant.language,
        )
        return Response(ContactOutput(contact_selectors.get_contact(survivor.id)).data)


class CompanyListAPI(TenantAPIView):
    @extend_schema(parameters=[CompanyListQuery], responses=CompanyOutput(many=True))
    def get(self, request: Request) -> Response:
        query = self.validate(CompanyListQuery, request.query_params)
        return self.paginate(
            request, contact_selectors.list_companies(query.get("q")), CompanyOutput
        )

    @extend_schema(request=CompanyCreateInput, responses={201: CompanyOutput})
    def post(self, request: Request) -> Response:
        data = self.validate(CompanyCreateInput, request.data)
        company = contacts.create_company(
            name=data["name"],
            domains=data.get("domains", []),
            notes=data.get("notes", ""),
            custom_fields=data.get("custom_fields", {}),
            actor=self.membership,
        )
        return Response(CompanyOutput(company).data, status=http.HTTP_201_CREATED)


class CompanyDetailAPI(TenantAPIView):
    @extend_schema(responses=CompanyOutput)
    def get(self, request: Request, company_id: UUID) -> Response:
        return Response(CompanyOutput(contact_selectors.get_company(company_id)).data)

    @extend_schema(request=CompanyUpdateInput, responses=CompanyOutput)
    def patch(self, request: Request, company_id: UUID) -> Response:
        data = self.validate(CompanyUpdateInput, request.data)
        company = contact_selectors.get_company(company_id)
        company = contacts.update_company(
            company,
            name=data.get("name", company.name),
            domains=data.get("domains", company.domains),
            notes=data.get("notes", company.notes),
            custom_fields=data.get("custom_fields", {}),
            actor=self.membership,
        )
        return Response(CompanyOutput(company).data)


class CanHandlePersonalData(HasCapability):
    """Admins: a person's data export and erasure."""

    capability = Capability.HANDLE_PERSONAL_DATA
    message = permissions.DENIED[Capability.HANDLE_PERSONAL_DATA]


class ContactExportAPI(TenantAPIView):
    permission_classes = [CanHandlePersonalData]

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, contact_id: UUID) -> Response:
        """Everything about the contact and the duplicates merged into it: the contact, their
        tickets with the conversation (customer messages and public replies, attachments
        listed), what they wrote on other tickets, the tickets they follow and their
        ratings. Recorded in the audit log. Admins only."""
        contact = contact_selectors.get_contact(contact_id)
        data = personal_data.export_contact(contact=contact, actor=self.membership)
        return Response(data)


class ContactEraseAPI(TenantAPIView):
    permission_classes = [CanHandlePersonalData]

    @extend_schema(request=None, responses=ContactErasedOutput)
    def post(self, request: Request, contact_id: UUID) -> Response:
        """Erase the person: names, addresses, message bodies and subjects, attachments,
        raw mail, the outbox's copies and the search index; their tickets stay as anonymous
        records for statistics. Recorded in the audit log. Admins only; cannot be undone."""
        contact = contact_selectors.get_contact(contact_id)
        counts = personal_data.erase_contact(contact=contact, actor=self.membership)
        return Response(ContactErasedOutput(counts).data)
