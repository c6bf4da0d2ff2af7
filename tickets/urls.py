from django.urls import path

from tickets import views

app_name = "tickets"

urlpatterns = [
    path("", views.home, name="home"),
    path("inbox/", views.inbox, name="inbox"),
    path("tickets/<int:number>/", views.ticket_detail, name="ticket-detail"),
    path("tickets/<int:number>/messages/", views.ticket_message, name="ticket-message"),
    path("tickets/<int:number>/update/", views.ticket_update, name="ticket-update"),
    path("reports/", views.reports, name="reports"),
]
