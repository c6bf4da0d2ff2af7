from django.urls import path

from automation.assignment import api

app_name = "assignment-api"

urlpatterns = [
    path(
        "departments/<uuid:department_id>/assignment/",
        api.DepartmentAssignmentAPI.as_view(),
        name="department-assignment",
    ),
]
