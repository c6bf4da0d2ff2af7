"""Customer pages under /help/ that create or change tickets (the knowledge base, below
tickets, cannot): the request form and the customer portal's sign-in and request list.
Included by helpdesk/urls.py before the help center."""

from django.urls import URLPattern, path

from tickets.ticket import portal_views

app_name = "portal"

urlpatterns: list[URLPattern] = [
    path("request/", portal_views.request_form, name="request"),
    path("sign-in/", portal_views.sign_in, name="sign-in"),
    path("sign-in/<str:token>/", portal_views.sign_in_link, name="sign-in-link"),
    path("sign-out/", portal_views.sign_out, name="sign-out"),
    path("requests/", portal_views.my_requests, name="requests"),
    path("my-data/", portal_views.my_data, name="my-data"),
]
