"""Integrations API. Admins: /api/v1/external-task-integrations/, …/<id>/, …/<id>/test/ and
/api/v1/contact-apps/, …/<id>/, …/<id>/test/. Members: a ticket's linked items at
/api/v1/tickets/<number>/external-tasks/ (POST creates one through an integration: 202,
created by a background task; agents and admins), …/<id>/ and …/<id>/retry/, and a contact
app's data for the ticket's contact at /api/v1/tickets/<number>/apps/<id>/."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import status as http
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from automation.errors import IntegrationInactive
from automation.integrations import config, contact_apps, selectors, services
from automation.integrations.serializers import (
    ContactAppCreateInput,
    ContactAppDataOutput,
    ContactAppOutput,
    ContactAppTestInput,
    ContactAppUpdateInput,
    ExternalTaskCreateInput,
    ExternalTaskIntegrationCreateInput,
    ExternalTaskIntegrationOutput,
    ExternalTaskIntegrationUpdateInput,
    ExternalTaskOutput,
    IntegrationTestOutput,
)
from helpdesk.api.permissions import IsTenantAdmin
from helpdesk.api.views import TenantAPIView
from helpdesk.tenancy.after_transaction import FinishedAfterTransaction
from tickets.ticket import selectors as ticket_selectors


class ExternalTaskIntegrationListAPI(TenantAPIView):
    permission_classes = [IsTenantAdmin]

    @extend_schema(responses=ExternalTaskIntegrationOutput(many=True))
    def get(self, request: Request) -> Response:
        return self.paginate(
            request, selectors.list_integrations().order_by("-id"), ExternalTaskIntegrationOutput
        )

    @extend_schema(
        request=ExternalTaskIntegrationCreateInput,
        responses={201: ExternalTaskIntegrationOutput},
    )
    def post(self, request: Request) -> Response:
        data = self.validate(ExternalTaskIntegrationCreateInput, request.data)
        integration = services.create_integration(actor=self.membership, **data)
        return Response(
            ExternalTaskIntegrationOutput(integration).data, status=http.HTTP_201_CREATED
        )


class ExternalTaskIntegrationDetailAPI(TenantAPIView):
    permission_classes = [IsTenantAdmin]

    @extend_schema(responses=ExternalTaskIntegrationOutput)
    def get(self, request: Request, integration_id: UUID) -> Response:
        integration = selectors.get_integration(integration_id)
        return Response(ExternalTaskIntegrationOutput(integration).data)

    @extend_schema(
        request=ExternalTaskIntegrationUpdateInput, responses=ExternalTaskIntegrationOutput
    )
    def patch(self, request: Request, integration_id: UUID) -> Response:
        data = self.validate(ExternalTaskIntegrationUpdateInput, request.data)
        integration = services.update_integration(
            integration=selectors.get_integration(integration_id), actor=self.membership, **data
        )
        return Response(ExternalTaskIntegrationOutput(integration).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, integration_id: UUID) -> Response:
        services.delete_integration(
            integration=selectors.get_integration(integration_id), actor=self.membership
        )
        return Response(status=http.HTTP_204_NO_CONTENT)


def _json_after_transaction(make: Callable[[], Any]) -> HttpResponse:
    """A 200 JSON answer made once the request's transaction has ended: for a call to a
    remote peer (up to its time limit) that must hold no transaction open."""

    def finish() -> tuple[str, int]:
        return JSONRenderer().render(make()).decode(), 200

    return FinishedAfterTransaction(finish, content_type="application/json")


def _test_result(run: Callable[[], config.TrialOutcome]) -> HttpResponse:
    return _json_after_transaction(lambda: IntegrationTestOutput(run()).data)


class ExternalTaskIntegrationTestAPI(TenantAPIView):
    permission_classes = [IsTenantAdmin]

    @extend_schema(request=None, responses=IntegrationTestOutput)
    def post(self, request: Request, integration_id: UUID) -> HttpResponse:
        run = services.start_integration_trial(
            integration=selectors.get_integration(integration_id), actor=self.membership
        )
        return _test_result(run)


class ContactAppListAPI(TenantAPIView):
    permission_classes = [IsTenantAdmin]

    @extend_schema(responses=ContactAppOutput(many=True))
    def get(self, request: Request) -> Response:
        return self.paginate(
            request, selectors.list_contact_apps().order_by("-id"), ContactAppOutput
        )

    @extend_schema(request=ContactAppCreateInput, responses={201: ContactAppOutput})
    def post(self, request: Request) -> Response:
        data = self.validate(ContactAppCreateInput, request.data)
        data["fields"] = data.pop("show_fields", [])
        app = contact_apps.create_contact_app(actor=self.membership, **data)
        return Response(ContactAppOutput(app).data, status=http.HTTP_201_CREATED)


class ContactAppDetailAPI(TenantAPIView):
    permission_classes = [IsTenantAdmin]

    @extend_schema(responses=ContactAppOutput)
    def get(self, request: Request, app_id: UUID) -> Response:
        return Response(ContactAppOutput(selectors.get_contact_app(app_id)).data)

    @extend_schema(request=ContactAppUpdateInput, responses=ContactAppOutput)
    def patch(self, request: Request, app_id: UUID) -> Response:
        data = self.validate(ContactAppUpdateInput, request.data)
        if "show_fields" in data:
            data["fields"] = data.pop("show_fields")
        app = contact_apps.update_contact_app(
            app=selectors.get_contact_app(app_id), actor=self.membership, **data
        )
        return Response(ContactAppOutput(app).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, app_id: UUID) -> Response:
        contact_apps.delete_contact_app(
            app=selectors.get_contact_app(app_id), actor=self.membership
        )
        return Response(status=http.HTTP_204_NO_CONTENT)


class ContactAppTestAPI(TenantAPIView):
    permission_classes = [IsTenantAdmin]

    @extend_schema(request=ContactAppTestInput, responses=IntegrationTestOutput)
    def post(self, request: Request, app_id: UUID) -> HttpResponse:
        data = self.validate(ContactAppTestInput, request.data)
        run = contact_apps.start_contact_app_trial(
            app=selectors.get_contact_app(app_id),
            actor=self.membership,
            contact_email=data.get("contact_email", ""),
        )
        return _test_result(run)


class TicketExternalTaskListAPI(TenantAPIView):
    @extend_schema(responses=ExternalTaskOutput(many=True))
    def get(self, request: Request, number: int) -> Response:
        ticket = ticket_selectors.get_ticket_by_number(number)
        return self.paginate(request, selectors.list_external_tasks(ticket), ExternalTaskOutput)

    @extend_schema(
        request=ExternalTaskCreateInput,
        responses={202: ExternalTaskOutput},
        description="Create a task in the integration's tool: the item comes back pending and"
        " a background task makes the request; read it again for its link (`status`"
        " `created`) or the reason it failed.",
    )
    def post(self, request: Request, number: int) -> Response:
        data = self.validate(ExternalTaskCreateInput, request.data)
        ticket = ticket_selectors.get_ticket_by_number(number)
        item = services.create_external_task(
            ticket=ticket,
            integration=selectors.get_integration(data["integration"]),
            actor=self.membership,
        )
        return Response(ExternalTaskOutput(item).data, status=http.HTTP_202_ACCEPTED)


class TicketExternalTaskDetailAPI(TenantAPIView):
    @extend_schema(responses=ExternalTaskOutput)
    def get(self, request: Request, number: int, item_id: UUID) -> Response:
        ticket = ticket_selectors.get_ticket_by_number(number)
        return Response(ExternalTaskOutput(selectors.get_external_task(ticket, item_id)).data)


class TicketExternalTaskRetryAPI(TenantAPIView):
    @extend_schema(request=None, responses={202: ExternalTaskOutput})
    def post(self, request: Request, number: int, item_id: UUID) -> Response:
        ticket = ticket_selectors.get_ticket_by_number(number)
        item = services.retry_external_task(
            item=selectors.get_external_task(ticket, item_id), actor=self.membership
        )
        return Response(ExternalTaskOutput(item).data, status=http.HTTP_202_ACCEPTED)


class TicketContactAppAPI(TenantAPIView):
    @extend_schema(
        responses=ContactAppDataOutput,
        description="What the contact app shows for the ticket's contact (cached for the"
        " app's cache time). A failed fetch is `state` `error` with the reason, never an"
        " HTTP error.",
    )
    def get(self, request: Request, number: int, app_id: UUID) -> HttpResponse:
        ticket = ticket_selectors.get_ticket_by_number(number)
        app = selectors.get_contact_app(app_id)
        if not app.is_active:
            raise IntegrationInactive(f"{app.name} is turned off.")
        found = contact_apps.look_up_contact_app(app=app, contact=ticket.contact)
        if not isinstance(found, contact_apps.PendingFetch):
            return Response(ContactAppDataOutput(found).data)
        pending = found
        # The app is asked once the request's transaction has ended (up to five seconds).
        return _json_after_transaction(
            lambda: ContactAppDataOutput(contact_apps.complete_fetch(pending)).data
        )
