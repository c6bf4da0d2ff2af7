from django.urls import path

from departments import api

app_name = "departments-api"

urlpatterns = [
    path("mailboxes/", api.MailboxListAPI.as_view(), name="mailbox-list"),
    path("mailboxes/<uuid:mailbox_id>/", api.MailboxDetailAPI.as_view(), name="mailbox-detail"),
]
