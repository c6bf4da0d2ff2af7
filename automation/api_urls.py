from django.urls import path

from automation import api
from automation.reports import api as report_api

app_name = "automation-api"

urlpatterns = [
    path("reports/summary/", report_api.ReportSummaryAPI.as_view(), name="report-summary"),
    path(
        "reports/breakdowns/<str:dimension>/",
        report_api.ReportBreakdownAPI.as_view(),
        name="report-breakdown",
    ),
    path("sla-policies/", api.SlaPolicyListAPI.as_view(), name="sla-policy-list"),
    path(
        "sla-policies/<uuid:policy_id>/", api.SlaPolicyDetailAPI.as_view(), name="sla-policy-detail"
    ),
    path("tickets/<int:number>/sla/", api.TicketSlaAPI.as_view(), name="ticket-sla"),
    path("canned-responses/", api.CannedResponseListAPI.as_view(), name="canned-response-list"),
    path(
        "canned-responses/<uuid:response_id>/",
        api.CannedResponseDetailAPI.as_view(),
        name="canned-response-detail",
    ),
    path(
        "canned-responses/<uuid:response_id>/render/",
        api.CannedResponseRenderAPI.as_view(),
        name="canned-response-render",
    ),
]
