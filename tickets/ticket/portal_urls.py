"""Customer pages under /help/ that create or change tickets (the knowledge base, below
tickets, cannot): the request form. Included by helpdesk/urls.py before the help center."""

from django.urls import URLPattern, path

from tickets.ticket import portal_views

app_name = "portal"

urlpatterns: list[URLPattern] = [
    path("request/", portal_views.request_form, name="request"),
]
