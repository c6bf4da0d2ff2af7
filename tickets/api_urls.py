from django.urls import path

from tickets import api

app_name = "tickets-api"

urlpatterns = [
    path("tickets/", api.TicketListAPI.as_view(), name="ticket-list"),
    path("tickets/<int:number>/", api.TicketDetailAPI.as_view(), name="ticket-detail"),
    path(
        "tickets/<int:number>/messages/", api.TicketMessageListAPI.as_view(), name="ticket-messages"
    ),
]
