from django.urls import path

from tickets import api_urls_configuration, api_urls_contacts
from tickets.api import core as api

app_name = "tickets-api"

urlpatterns = [
    path("tickets/", api.TicketListAPI.as_view(), name="ticket-list"),
    path("tickets/<int:number>/", api.TicketDetailAPI.as_view(), name="ticket-detail"),
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
        api.NotificationSettingsAPI.as_view(),
        name="notification-settings",
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

urlpatterns += api_urls_contacts.urlpatterns + api_urls_configuration.urlpatterns
