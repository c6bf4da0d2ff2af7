"""The reports API: the summary of a date range with its breakdowns."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from automation.reports import selectors
from helpdesk.api.views import TenantAPIView


class ReportSummaryAPI(TenantAPIView):
    pagination_class = None

    @extend_schema(
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATE, description="First day (tenant's zone)"),
            OpenApiParameter("to", OpenApiTypes.DATE, description="Last day, included"),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request) -> Response:
        """Tickets created and solved, first response and resolution medians and 90th
        percentiles (minutes), SLA targets met, satisfaction, per day and by channel,
        department, agent, type, priority and mailbox. Without dates: the last 30 days."""
        start, end = selectors.parse_range(request.query_params)
        return Response(selectors.report_payload(selectors.read_report(start, end)))
