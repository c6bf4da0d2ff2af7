"""Agent pages of tickets: each feature package lists its own."""

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

app_name = "tickets"

urlpatterns: list[URLPattern] = [
    *ticket_urls.urlpatterns,
    *inbox_urls.urlpatterns,
    *notifications_urls.urlpatterns,
    *reminders_urls.urlpatterns,
    *satisfaction_urls.urlpatterns,
    *mail_in_urls.urlpatterns,
    *mail_out_urls.urlpatterns,
    *contacts_urls.urlpatterns,
    *configuration_urls.urlpatterns,
    *articles_urls.urlpatterns,
]
