"""Ticket settings: agent pages (`urlpatterns`, included by tickets/urls.py) and API
(`api_urlpatterns`, included by tickets/api_urls.py)."""

from django.urls import URLPattern, path

from tickets.configuration import api, views

urlpatterns: list[URLPattern] = [
    path("settings/tickets/", views.ticket_settings, name="ticket-settings"),
    path("settings/preferences/", views.preferences, name="preferences"),
    path(
        "settings/tickets/ownership/",
        views.ticket_settings_ownership,
        name="ticket-settings-ownership",
    ),
    path(
        "settings/tickets/retention/",
        views.ticket_settings_retention,
        name="ticket-settings-retention",
    ),
    path(
        "settings/tickets/auto-solve/",
        views.ticket_settings_auto_solve,
        name="ticket-settings-auto-solve",
    ),
    path(
        "settings/tickets/satisfaction/",
        views.ticket_settings_satisfaction,
        name="ticket-settings-satisfaction",
    ),
    path(
        "settings/tickets/priorities/",
        views.ticket_settings_priorities,
        name="ticket-settings-priorities",
    ),
    path("settings/tickets/types/", views.ticket_type_create, name="ticket-type-create"),
    path(
        "settings/tickets/types/<uuid:type_id>/",
        views.ticket_type_update,
        name="ticket-type-update",
    ),
    path("settings/tickets/statuses/", views.custom_status_create, name="custom-status-create"),
    path(
        "settings/tickets/statuses/<uuid:status_id>/",
        views.custom_status_update,
        name="custom-status-update",
    ),
    path("settings/fields/", views.custom_fields, name="custom-fields"),
    path("settings/fields/new/", views.custom_field_create, name="custom-field-create"),
    path("settings/fields/<uuid:field_id>/", views.custom_field_edit, name="custom-field-edit"),
]

api_urlpatterns: list[URLPattern] = [
    path("workspace-settings/", api.WorkspaceSettingsAPI.as_view(), name="workspace-settings"),
    path("ticket-types/", api.TicketTypeListAPI.as_view(), name="ticket-type-list"),
    path(
        "ticket-types/<uuid:type_id>/",
        api.TicketTypeDetailAPI.as_view(),
        name="ticket-type-detail",
    ),
    path("custom-statuses/", api.CustomStatusListAPI.as_view(), name="custom-status-list"),
    path(
        "custom-statuses/<uuid:status_id>/",
        api.CustomStatusDetailAPI.as_view(),
        name="custom-status-detail",
    ),
    path("custom-fields/", api.CustomFieldListAPI.as_view(), name="custom-field-list"),
    path(
        "custom-fields/<uuid:field_id>/",
        api.CustomFieldDetailAPI.as_view(),
        name="custom-field-detail",
    ),
]
