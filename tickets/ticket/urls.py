"""URLs of the ticket: lifecycle, conversation, merging, presence.

`urlpatterns`: agent pages (included by tickets/urls.py); `api_urlpatterns`: the API
(included by tickets/api_urls.py)."""

from django.urls import URLPattern, path

from tickets.ticket import api, portal_views, views

urlpatterns: list[URLPattern] = [
    path("tickets/<int:number>/presence/", views.ticket_presence, name="ticket-presence"),
    path("tickets/<int:number>/merge/", views.ticket_merge, name="ticket-merge"),
    path("tickets/<int:number>/spam/", views.ticket_spam, name="ticket-spam"),
    path(
        "tickets/<int:number>/messages/<uuid:message_id>/split/",
        views.message_split,
        name="message-split",
    ),
    path("tickets/new/", views.ticket_new, name="ticket-new"),
    path("tickets/<int:number>/followers/", views.ticket_followers, name="ticket-followers"),
    path("tickets/preview/", views.reply_preview, name="reply-preview"),
    path(
        "tickets/<int:number>/messages/<uuid:message_id>/forward/",
        views.message_forward,
        name="message-forward",
    ),
    path("tickets/<int:number>/", views.ticket_detail, name="ticket-detail"),
    path("tickets/<int:number>/messages/", views.ticket_message, name="ticket-message"),
    path("tickets/<int:number>/update/", views.ticket_update, name="ticket-update"),
    path("track/<str:token>/", views.ticket_tracking, name="tracking"),
    path("track/<str:token>/reply/", portal_views.tracking_reply, name="tracking-reply"),
    path("track/<str:token>/solve/", portal_views.tracking_solve, name="tracking-solve"),
    path(
        "track/<str:token>/files/<uuid:attachment_id>/",
        portal_views.tracking_attachment,
        name="tracking-attachment",
    ),
    path("attachments/<uuid:attachment_id>/", views.attachment, name="attachment"),
]

api_urlpatterns: list[URLPattern] = [
    path("tickets/", api.TicketListAPI.as_view(), name="ticket-list"),
    path("tickets/<int:number>/", api.TicketDetailAPI.as_view(), name="ticket-detail"),
    path("tickets/<int:number>/merge/", api.TicketMergeAPI.as_view(), name="ticket-merge"),
    path("tickets/<int:number>/open/", api.TicketOpenAPI.as_view(), name="ticket-open"),
    path(
        "tickets/<int:number>/presence/",
        api.TicketPresenceAPI.as_view(),
        name="ticket-presence",
    ),
    path(
        "tickets/<int:number>/messages/<uuid:message_id>/split/",
        api.MessageSplitAPI.as_view(),
        name="message-split",
    ),
    path(
        "tickets/<int:number>/messages/", api.TicketMessageListAPI.as_view(), name="ticket-messages"
    ),
    path(
        "tickets/<int:number>/messages/<uuid:message_id>/forward/",
        api.MessageForwardAPI.as_view(),
        name="message-forward",
    ),
    path(
        "tickets/<int:number>/followers/",
        api.TicketFollowerListAPI.as_view(),
        name="ticket-followers",
    ),
    path(
        "tickets/<int:number>/followers/<uuid:contact_id>/",
        api.TicketFollowerDetailAPI.as_view(),
        name="ticket-follower",
    ),
]
