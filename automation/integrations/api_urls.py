"""The integrations API under /api/v1/ (included by helpdesk/urls.py)."""

from django.urls import URLPattern, path

from automation.integrations import api

app_name = "integrations-api"

urlpatterns: list[URLPattern] = [
    path(
        "external-task-integrations/",
        api.ExternalTaskIntegrationListAPI.as_view(),
        name="integration-list",
    ),
    path(
        "external-task-integrations/<uuid:integration_id>/",
        api.ExternalTaskIntegrationDetailAPI.as_view(),
        name="integration-detail",
    ),
    path(
        "external-task-integrations/<uuid:integration_id>/test/",
        api.ExternalTaskIntegrationTestAPI.as_view(),
        name="integration-test",
    ),
    path("contact-apps/", api.ContactAppListAPI.as_view(), name="contact-app-list"),
    path(
        "contact-apps/<uuid:app_id>/", api.ContactAppDetailAPI.as_view(), name="contact-app-detail"
    ),
    path(
        "contact-apps/<uuid:app_id>/test/", api.ContactAppTestAPI.as_view(), name="contact-app-test"
    ),
    path(
        "tickets/<int:number>/external-tasks/",
        api.TicketExternalTaskListAPI.as_view(),
        name="ticket-external-tasks",
    ),
    path(
        "tickets/<int:number>/external-tasks/<uuid:item_id>/",
        api.TicketExternalTaskDetailAPI.as_view(),
        name="ticket-external-task",
    ),
    path(
        "tickets/<int:number>/external-tasks/<uuid:item_id>/retry/",
        api.TicketExternalTaskRetryAPI.as_view(),
        name="ticket-external-task-retry",
    ),
    path(
        "tickets/<int:number>/apps/<uuid:app_id>/",
        api.TicketContactAppAPI.as_view(),
        name="ticket-contact-app",
    ),
]
