"""The reports API: the summary of a date range with its series and breakdowns, and one
breakdown on its own. Admins see the team (or `agent=<id>`); agents their own figures."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from automation.errors import UnknownReportBreakdown
from automation.reports import selectors
from automation.reports.serializers import ReportBreakdownOutput, ReportSummaryOutput
from helpdesk.api.views import TenantAPIView

RANGE_PARAMETERS = [
    OpenApiParameter(
        "from",
        OpenApiTypes.DATE,
        description="First day, in the help desk's time zone (with `to`; neither: last 30 days)",
    ),
    OpenApiParameter("to", OpenApiTypes.DATE, description="Last day, included (at most two years)"),
    OpenApiParameter(
        "agent",
        OpenApiTypes.UUID,
        description="Admins: one agent's figures (a member id). Agents always get their own.",
    ),
]


class ReportSummaryAPI(TenantAPIView):
    pagination_class = None

    @extend_schema(parameters=RANGE_PARAMETERS, responses=ReportSummaryOutput)
    def get(self, request: Request) -> Response:
        """Tickets created, solved and reopened, first response and resolution medians and
        90th percentiles in calendar and business minutes, replies per ticket, SLA targets
        met and missed, satisfaction, deflections; per day (with the backlog), per week,
        by weekday and hour; and by channel, department, agent, type, priority, mailbox,
        tag and company."""
        start, end = selectors.parse_range(request.query_params)
        agent_id = selectors.report_agent(self.membership, request.query_params.get("agent", ""))
        payload = selectors.report_payload(selectors.read_report(start, end, agent_id=agent_id))
        return Response(ReportSummaryOutput(payload).data)


class ReportBreakdownAPI(TenantAPIView):
    pagination_class = None

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "dimension",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                enum=list(selectors.BREAKDOWNS),
                description="The breakdown",
            ),
            *RANGE_PARAMETERS,
        ],
        responses=ReportBreakdownOutput,
    )
    def get(self, request: Request, dimension: str) -> Response:
        """One breakdown of the range's figures, largest first (every row, however many)."""
        if dimension not in selectors.BREAKDOWNS:
            raise UnknownReportBreakdown()
        start, end = selectors.parse_range(request.query_params)
        agent_id = selectors.report_agent(self.membership, request.query_params.get("agent", ""))
        report = selectors.read_report(start, end, agent_id=agent_id, top=None)
        rows = selectors.breakdown_payload(report, dimension, selectors.dimension_labels(report))
        return Response(
            ReportBreakdownOutput(
                {
                    "from": start.isoformat(),
                    "to": end.isoformat(),
                    "dimension": dimension,
                    "results": rows,
                }
            ).data
        )
