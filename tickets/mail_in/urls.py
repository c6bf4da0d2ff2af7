"""URLs of mail in: the inbound log, a mailbox's IMAP check.

`urlpatterns`: agent pages (included by tickets/urls.py); `api_urlpatterns`: the API
(included by tickets/api_urls.py)."""

from django.urls import URLPattern, path

from tickets.mail_in import api, views

urlpatterns: list[URLPattern] = [
    path("settings/inbound/", views.inbound_log, name="inbound-log"),
    path("settings/inbound/<uuid:email_id>/", views.inbound_detail, name="inbound-detail"),
    path("settings/inbound/<uuid:email_id>/raw/", views.inbound_raw, name="inbound-raw"),
    path("settings/inbound/<uuid:email_id>/retry/", views.inbound_retry, name="inbound-retry"),
    # A mailbox's *Test connection* (on the departments' mailbox form).
    path("settings/mailboxes/imap-check/", views.mailbox_imap_check, name="mailbox-imap-check-new"),
    path(
        "settings/mailboxes/<uuid:mailbox_id>/imap-check/",
        views.mailbox_imap_check,
        name="mailbox-imap-check",
    ),
]

api_urlpatterns: list[URLPattern] = [
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
        "mailboxes/<uuid:mailbox_id>/check-imap/",
        api.MailboxImapCheckAPI.as_view(),
        name="mailbox-check-imap",
    ),
]
