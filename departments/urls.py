from django.urls import path

from departments import views

app_name = "departments"

urlpatterns = [
    path("", views.admin_overview, name="admin"),
]
