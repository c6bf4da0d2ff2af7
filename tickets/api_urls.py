from django.urls import path

from tickets.api import core as api
from tickets.api import workspace
from tickets.configuration import urls as configuration_urls
from tickets.contacts import urls as contact_urls
from tickets.notifications import api as notification_api
from tickets.satisfaction import api as satisfaction

app_name = "tickets-api"

urlpatterns = [
    path("tickets/", api.TicketListAPI.as_view(), name="ticket-list"),
    path("tickets/bulk/", workspace.BulkActionAPI.as_view(), name="ticket-bulk"),
    path("tickets/<int:number>/", api.TicketDetailAPI.as_view(), name="ticket-detail"),
    path("tickets/<int:number>/merge/", workspace.TicketMergeAPI.as_view(), name="ticket-merge"),
    path("tickets/<int:number>/open/", workspace.TicketOpenAPI.as_view(), name="ticket-open"),
    path(
        "tickets/<int:number>/presence/",
        workspace.TicketPresenceAPI.as_view(),
        name="ticket-presence",
    ),
    path(
        "tickets/<int:number>/messages/<uuid:message_id>/split/",
        workspace.MessageSplitAPI.as_view(),
        name="message-split",
    ),
    path("saved-views/", workspace.SavedViewListAPI.as_view(), name="saved-view-list"),
    path(
        "saved-views/<uuid:view_id>/",
        workspace.SavedViewDetailAPI.as_view(),
        name="saved-view-detail",
    ),
    path(
        "notifications/", notification_api.NotificationListAPI.as_view(), name="notification-list"
    ),
    path(
        "notifications/read/",
        notification_api.NotificationReadAPI.as_view(),
        name="notification-read",
    ),
    path(
        "notifications/unread-count/",
        notification_api.NotificationUnreadCountAPI.as_view(),
        name="notification-unread-count",
    ),
    path(
        "tickets/<int:number>/messages/", api.TicketMessageListAPI.as_view(), name="ticket-messages"
    ),
    path("inbound-emails/", api.InboundEmailListAPI.as_view(), name="inbound-email-list"),
    path(
        "inbound-emails/<uuid:email_id>/",
        api.InboundEmailDetailAPI.as_view(),
        name="inbound-email-detail",
    ),
    path(
        "inbound-emails/<uuid:email_id>/raw/",
        api.InboundEmailRawAPI.as_view(),
        name="inbound-email-raw",
    ),
    path(
        "inbound-emails/<uuid:email_id>/retry/",
        api.InboundEmailRetryAPI.as_view(),
        name="inbound-email-retry",
    ),
    path(
        "notification-settings/",
        notification_api.NotificationSettingsAPI.as_view(),
        name="notification-settings",
    ),
    path(
        "satisfaction-ratings/",
        satisfaction.SatisfactionRatingListAPI.as_view(),
        name="satisfaction-rating-list",
    ),
    path("email-templates/", api.EmailTemplateListAPI.as_view(), name="email-template-list"),
    path(
        "email-templates/preview/",
        api.EmailTemplatePreviewAPI.as_view(),
        name="email-template-preview",
    ),
    path(
        "email-templates/<slug:kind>/",
        api.EmailTemplateDetailAPI.as_view(),
        name="email-template-detail",
    ),
]

urlpatterns += contact_urls.api_urlpatterns + configuration_urls.api_urlpatterns
