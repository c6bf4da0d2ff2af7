"""API of tickets under /api/v1/: each feature package lists its own."""

from django.urls import URLPattern

from tickets.articles import urls as articles_urls
from tickets.configuration import urls as configuration_urls
from tickets.contacts import urls as contacts_urls
from tickets.inbox import urls as inbox_urls
from tickets.mail_in import urls as mail_in_urls
from tickets.mail_out import urls as mail_out_urls
from tickets.notifications import urls as notifications_urls
from tickets.reminders import urls as reminders_urls
from tickets.satisfaction import urls as satisfaction_urls
from tickets.ticket import urls as ticket_urls

app_name = "tickets-api"

urlpatterns: list[URLPattern] = [
    *ticket_urls.api_urlpatterns,
    *inbox_urls.api_urlpatterns,
    *notifications_urls.api_urlpatterns,
    *reminders_urls.api_urlpatterns,
    *satisfaction_urls.api_urlpatterns,
    *mail_in_urls.api_urlpatterns,
    *mail_out_urls.api_urlpatterns,
    *contacts_urls.api_urlpatterns,
    *configuration_urls.api_urlpatterns,
    *articles_urls.api_urlpatterns,
]
