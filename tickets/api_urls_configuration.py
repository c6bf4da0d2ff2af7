"""API: configuration (included by tickets/api_urls.py)."""

from django.urls import URLPattern, path

from tickets.api import configuration as api

urlpatterns: list[URLPattern] = [
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
