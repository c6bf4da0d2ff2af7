"""TenantAPIView: the base of every API view (auth, tenant member, throttle, pagination)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db.models import QuerySet
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer, Serializer
from rest_framework.views import APIView

from helpdesk.api.authentication import TenantPrincipalAuthentication
from helpdesk.api.pagination import IdCursorPagination
from helpdesk.api.permissions import IsTenantMember
from helpdesk.api.throttling import PrincipalRateThrottle
from helpdesk.tenancy.http import MemberRequest
from helpdesk.tenancy.models import Membership


class TenantAPIView(APIView):
    authentication_classes = [TenantPrincipalAuthentication]
    permission_classes = [IsTenantMember]
    throttle_classes = [PrincipalRateThrottle]
    # None in views that answer a short list whole.
    pagination_class: type[IdCursorPagination] | None = IdCursorPagination

    request: MemberRequest

    def validate(
        self, serializer_class: type[Serializer[Any]], data: Any, **kwargs: Any
    ) -> dict[str, Any]:
        """Validated input or a 400 in the error envelope. A JSON body with a field the
        operation does not take is refused by name (a typo would otherwise be ignored and the
        request "succeed" without doing what was meant); query strings may carry others."""
        serializer = serializer_class(data=data, context={"request": self.request}, **kwargs)
        unknown = (
            sorted(set(data) - set(serializer.fields))
            if data is self.request.data and isinstance(data, dict)
            else []
        )
        serializer.is_valid(raise_exception=True)
        if unknown:
            raise ValidationError({name: ["Not a field of this operation."] for name in unknown})
        validated: dict[str, Any] = serializer.validated_data
        return validated

    def paginate(
        self, request: Request, queryset: QuerySet[Any], serializer_class: type[BaseSerializer[Any]]
    ) -> Response:
        if self.pagination_class is None:
            raise ImproperlyConfigured(f"{type(self).__name__} does not paginate")
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(queryset, request, view=self)
        data = serializer_class(page, many=True, context={"request": request}).data
        return paginator.get_paginated_response(data)

    @property
    def membership(self) -> Membership:
        return self.request._request.membership
