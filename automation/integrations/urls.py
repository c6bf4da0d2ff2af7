"""Integration pages: the admin's settings and the ticket sidebar's panel (included by
helpdesk/urls.py)."""

from django.urls import URLPattern, path

from automation.integrations import views

app_name = "automation-integrations"

urlpatterns: list[URLPattern] = [
    path("settings/integrations/", views.integrations, name="integrations"),
    path("settings/integrations/tasks/new/", views.integration_detail, name="integration-new"),
    path(
        "settings/integrations/tasks/<uuid:integration_id>/",
        views.integration_detail,
        name="integration-detail",
    ),
    path(
        "settings/integrations/tasks/<uuid:integration_id>/test/",
        views.integration_test,
        name="integration-test",
    ),
    path(
        "settings/integrations/tasks/<uuid:integration_id>/delete/",
        views.integration_delete,
        name="integration-delete",
    ),
    path("settings/integrations/apps/new/", views.contact_app_detail, name="contact-app-new"),
    path(
        "settings/integrations/apps/<uuid:app_id>/",
        views.contact_app_detail,
        name="contact-app-detail",
    ),
    path(
        "settings/integrations/apps/<uuid:app_id>/test/",
        views.contact_app_test,
        name="contact-app-test",
    ),
    path(
        "settings/integrations/apps/<uuid:app_id>/delete/",
        views.contact_app_delete,
        name="contact-app-delete",
    ),
    path("tickets/<int:number>/integrations/", views.ticket_integrations, name="ticket-panel"),
    path(
        "tickets/<int:number>/integrations/<uuid:integration_id>/create/",
        views.ticket_external_task_create,
        name="ticket-task-create",
    ),
    path(
        "tickets/<int:number>/external-tasks/<uuid:item_id>/retry/",
        views.ticket_external_task_retry,
        name="ticket-task-retry",
    ),
    path(
        "tickets/<int:number>/apps/<uuid:app_id>/",
        views.ticket_contact_app,
        name="ticket-contact-app",
    ),
]
