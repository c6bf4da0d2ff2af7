"""URLs of tasks and reminders.

`urlpatterns`: agent pages (included by tickets/urls.py); `api_urlpatterns`: the API
(included by tickets/api_urls.py)."""

from django.urls import URLPattern, path

from tickets.reminders import api, views

urlpatterns: list[URLPattern] = [
    path("tasks/", views.my_tasks, name="my-tasks"),
    path("tickets/<int:number>/tasks/", views.ticket_tasks, name="ticket-tasks"),
]

api_urlpatterns: list[URLPattern] = [
    path("tasks/", api.TaskListAPI.as_view(), name="task-list"),
    path("tasks/<uuid:task_id>/", api.TaskDetailAPI.as_view(), name="task-detail"),
]
