from django.urls import path

from automation.assignment import views

app_name = "assignment"

urlpatterns = [
    path(
        "settings/departments/<uuid:department_id>/assignment/",
        views.department_load,
        name="department-load",
    ),
]
