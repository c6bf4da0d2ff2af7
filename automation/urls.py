from django.urls import path

from automation import views
from automation.reports import views as report_views

app_name = "automation"

urlpatterns = [
    path("reports/", report_views.reports, name="reports"),
    path("reports/export.csv", report_views.reports_export, name="reports-export"),
    path("reports/weekly-mail/", report_views.reports_weekly_mail, name="reports-weekly-mail"),
    path("canned-responses/", views.canned_responses, name="canned-responses"),
    path(
        "canned-responses/<uuid:response_id>/", views.canned_responses, name="canned-response-edit"
    ),
    path(
        "canned-responses/<uuid:response_id>/delete/",
        views.canned_response_delete,
        name="canned-response-delete",
    ),
    path("tickets/<int:number>/canned/", views.canned_picker, name="canned-picker"),
    path(
        "tickets/<int:number>/canned/<uuid:response_id>/", views.canned_insert, name="canned-insert"
    ),
    path("settings/sla/", views.sla_policies, name="sla-policies"),
    path("settings/sla/<uuid:policy_id>/", views.sla_policies, name="sla-policy-edit"),
    path(
        "settings/sla/<uuid:policy_id>/delete/", views.sla_policy_delete, name="sla-policy-delete"
    ),
    path("settings/sla/<uuid:policy_id>/move/", views.sla_policy_move, name="sla-policy-move"),
    path("tickets/<int:number>/sla/", views.ticket_sla, name="ticket-sla"),
    path(
        "messages/<uuid:message_id>/save-as-canned/", views.save_reply, name="save-reply-as-canned"
    ),
]
