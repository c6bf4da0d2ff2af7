from django.urls import path

from tickets.configuration import urls as urls_configuration
from tickets.contacts import urls as contact_urls
from tickets.notifications import views as notification_views
from tickets.satisfaction import views as satisfaction_views
from tickets.views import core as views
from tickets.views import inbox as inbox_views
from tickets.views import ticket as ticket_views
from tickets.views import workspace

app_name = "tickets"

urlpatterns = [
    path("", inbox_views.home, name="home"),
    path("inbox/", inbox_views.inbox_page, name="inbox"),
    path("inbox/bulk/", inbox_views.inbox_bulk, name="inbox-bulk"),
    path("inbox/views/", inbox_views.saved_view_create, name="saved-view-create"),
    path(
        "inbox/views/<uuid:view_id>/delete/",
        inbox_views.saved_view_delete,
        name="saved-view-delete",
    ),
    path("tickets/<int:number>/presence/", ticket_views.ticket_presence, name="ticket-presence"),
    path("tickets/<int:number>/merge/", workspace.ticket_merge, name="ticket-merge"),
    path("tickets/<int:number>/articles/", workspace.article_picker, name="article-picker"),
    path("tickets/<int:number>/spam/", workspace.ticket_spam, name="ticket-spam"),
    path(
        "tickets/<int:number>/messages/<uuid:message_id>/split/",
        workspace.message_split,
        name="message-split",
    ),
    path("notifications/", notification_views.notification_list, name="notifications"),
    path("notifications/badge/", notification_views.notification_badge, name="notification-badge"),
    path("notifications/read/", notification_views.notifications_read, name="notifications-read"),
    path("tickets/<int:number>/", ticket_views.ticket_detail, name="ticket-detail"),
    path("tickets/<int:number>/messages/", ticket_views.ticket_message, name="ticket-message"),
    path("tickets/<int:number>/update/", ticket_views.ticket_update, name="ticket-update"),
    path("reports/", views.reports, name="reports"),
    path("track/<str:token>/", views.ticket_tracking, name="tracking"),
    path(
        "satisfaction/<str:token>/",
        satisfaction_views.satisfaction_survey,
        name="satisfaction",
    ),
    path("settings/email-templates/", views.email_templates, name="email-templates"),
    path(
        "settings/email-templates/<slug:kind>/",
        views.email_template_edit,
        name="email-template-edit",
    ),
    path(
        "settings/notifications/",
        notification_views.notification_settings,
        name="notification-settings",
    ),
    path("attachments/<uuid:attachment_id>/", views.attachment, name="attachment"),
    path("settings/inbound/", views.inbound_log, name="inbound-log"),
    path("settings/inbound/<uuid:email_id>/", views.inbound_detail, name="inbound-detail"),
    path("settings/inbound/<uuid:email_id>/raw/", views.inbound_raw, name="inbound-raw"),
    path("settings/inbound/<uuid:email_id>/retry/", views.inbound_retry, name="inbound-retry"),
]

urlpatterns += contact_urls.urlpatterns + urls_configuration.urlpatterns
