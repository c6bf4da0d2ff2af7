"""Webhooks API (admins): /api/v1/webhooks/, …/<id>/, …/<id>/test/, …/<id>/deliveries/,
…/<id>/rotate-secret/."""

from __future__ import annotations

from uuid import UUID

from drf_spectacular.utils import extend_schema
from rest_framework import status as http
from rest_framework.request import Request
from rest_framework.response import Response

from automation.webhooks import selectors, services
from automation.webhooks.serializers import (
    WebhookCreatedOutput,
    WebhookCreateInput,
    WebhookDeliveryOutput,
    WebhookOutput,
    WebhookSecretOutput,
    WebhookUpdateInput,
)
from helpdesk.api.permissions import IsTenantAdmin
from helpdesk.api.views import TenantAPIView


class WebhookListAPI(TenantAPIView):
    permission_classes = [IsTenantAdmin]

    @extend_schema(responses=WebhookOutput(many=True))
    def get(self, request: Request) -> Response:
        return self.paginate(request, selectors.list_webhooks(), WebhookOutput)

    @extend_schema(request=WebhookCreateInput, responses={201: WebhookCreatedOutput})
    def post(self, request: Request) -> Response:
        data = self.validate(WebhookCreateInput, request.data)
        webhook, secret = services.create_webhook(actor=self.membership, **data)
        output = WebhookCreatedOutput(webhook, context={"secret": secret})
        return Response(output.data, status=http.HTTP_201_CREATED)


class WebhookDetailAPI(TenantAPIView):
    permission_classes = [IsTenantAdmin]

    @extend_schema(responses=WebhookOutput)
    def get(self, request: Request, webhook_id: UUID) -> Response:
        return Response(WebhookOutput(selectors.get_webhook(webhook_id)).data)

    @extend_schema(request=WebhookUpdateInput, responses=WebhookOutput)
    def patch(self, request: Request, webhook_id: UUID) -> Response:
        data = self.validate(WebhookUpdateInput, request.data)
        webhook = services.update_webhook(
            webhook=selectors.get_webhook(webhook_id), actor=self.membership, **data
        )
        return Response(WebhookOutput(webhook).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, webhook_id: UUID) -> Response:
        services.delete_webhook(webhook=selectors.get_webhook(webhook_id), actor=self.membership)
        return Response(status=http.HTTP_204_NO_CONTENT)


class WebhookTestAPI(TenantAPIView):
    permission_classes = [IsTenantAdmin]

    @extend_schema(request=None, responses={202: WebhookDeliveryOutput})
    def post(self, request: Request, webhook_id: UUID) -> Response:
        delivery = services.send_test(
            webhook=selectors.get_webhook(webhook_id), actor=self.membership
        )
        return Response(WebhookDeliveryOutput(delivery).data, status=http.HTTP_202_ACCEPTED)


class WebhookRotateSecretAPI(TenantAPIView):
    permission_classes = [IsTenantAdmin]

    @extend_schema(request=None, responses=WebhookSecretOutput)
    def post(self, request: Request, webhook_id: UUID) -> Response:
        secret = services.rotate_webhook_secret(
            webhook=selectors.get_webhook(webhook_id), actor=self.membership
        )
        return Response(WebhookSecretOutput({"secret": secret}).data)


class WebhookDeliveryListAPI(TenantAPIView):
    permission_classes = [IsTenantAdmin]

    @extend_schema(responses=WebhookDeliveryOutput(many=True))
    def get(self, request: Request, webhook_id: UUID) -> Response:
        webhook = selectors.get_webhook(webhook_id)
        return self.paginate(request, selectors.list_deliveries(webhook), WebhookDeliveryOutput)
