"""TenantAPIView: the base of every API view (auth, tenant member, throttle, pagination);
SchemaView: the OpenAPI document."""

from __future__ import annotations

from typing import Any, NamedTuple

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import QuerySet
from django.http import HttpResponse
from django.utils import translation
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView
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


class SchemaView(SpectacularAPIView):
    """The OpenAPI document, YAML or JSON by content negotiation, `?lang=` one of LANGUAGES.

    It is public and the same for every tenant and caller, and drawing it up costs about
    half a second of CPU (generation and YAML), while anyone may ask for it as often as the
    API rate allows: so each process renders each form once and answers from memory after
    that. A deploy (new processes) is the only thing that changes it."""

    permission_classes: list[Any] = []

    @extend_schema(exclude=True)  # the document does not describe itself
    def get(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        language = _schema_language(request)
        renderer = request.accepted_renderer
        key = (language, renderer.media_type)
        document = _SCHEMA_DOCUMENTS.get(key)
        if document is None:
            with translation.override(language):
                drafted = self._get_schema_response(request)  # type: ignore[no-untyped-call]
                # The renderer's own media type, not the Accept header's parameters: one
                # body per form (JSON's `indent=` would otherwise make any number of them).
                body = renderer.render(
                    drafted.data, renderer.media_type, self.get_renderer_context()
                )
            content_type = renderer.media_type
            if renderer.charset:
                content_type = f"{content_type}; charset={renderer.charset}"
            if isinstance(body, str):
                body = body.encode()
            document = _SchemaDocument(body, content_type, drafted["Content-Disposition"])
            _SCHEMA_DOCUMENTS[key] = document
        response = HttpResponse(document.body, content_type=document.content_type)
        response["Content-Disposition"] = document.disposition
        return response

    def _get_version_parameter(self, request: Request) -> None:
        """The API's version is in its paths (/api/v1/): a `?version=` changes nothing."""
        return None


class _SchemaDocument(NamedTuple):
    body: bytes
    content_type: str
    disposition: str


# (language, media type) -> the rendered document; at most len(LANGUAGES) x 4 entries.
_SCHEMA_DOCUMENTS: dict[tuple[str, str], _SchemaDocument] = {}


def _schema_language(request: Request) -> str:
    """The language asked for with `?lang=`, else the request's; an unknown one is a 400."""
    asked = request.query_params.get("lang")
    if not asked:
        return translation.get_language() or settings.LANGUAGE_CODE
    try:
        return translation.get_supported_language_variant(asked)
    except LookupError:
        codes = ", ".join(code for code, _ in settings.LANGUAGES)
        raise ValidationError(
            {"lang": [f"Not a language of this help desk: use {codes}."]}
        ) from None
