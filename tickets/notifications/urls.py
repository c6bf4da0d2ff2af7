"""URLs of notifications.

`urlpatterns`: agent pages (included by tickets/urls.py); `api_urlpatterns`: the API
(included by tickets/api_urls.py)."""

from django.urls import URLPattern, path

from tickets.notifications import api, views

urlpatterns: list[URLPattern] = [
    path("notifications/", views.notification_list, name="notifications"),
    path("notifications/badge/", views.notification_badge, name="notification-badge"),
    path("notifications/read/", views.notifications_read, name="notifications-read"),
    path(
        "settings/notifications/",
        views.notification_settings,
        name="notification-settings",
    ),
]

api_urlpatterns: list[URLPattern] = [
    path("notifications/", api.NotificationListAPI.as_view(), name="notification-list"),
    path(
        "notifications/read/",
        api.NotificationReadAPI.as_view(),
        name="notification-read",
    ),
    path(
        "notifications/unread-count/",
        api.NotificationUnreadCountAPI.as_view(),
        name="notification-unread-count",
    ),
    path(
        "notification-settings/",
        api.NotificationSettingsAPI.as_view(),
        name="notification-settings",
    ),
]
