from django.urls import path

from departments import views
from departments.shifts import urls as shift_urls

app_name = "departments"

urlpatterns = [
    path("", views.admin_overview, name="admin"),
    path("departments/<uuid:department_id>/", views.department_edit, name="department-edit"),
    path(
        "departments/<uuid:department_id>/delete/",
        views.department_delete,
        name="department-delete",
    ),
    path("business-hours/", views.business_hours, name="business-hours"),
    path("business-hours/<uuid:hours_id>/", views.business_hours, name="business-hours-edit"),
    path(
        "business-hours/<uuid:hours_id>/delete/",
        views.business_hours_delete,
        name="business-hours-delete",
    ),
    path("mailboxes/new/", views.mailbox_edit, name="mailbox-new"),
    path("mailboxes/<uuid:mailbox_id>/", views.mailbox_edit, name="mailbox-edit"),
    path("mailboxes/<uuid:mailbox_id>/delete/", views.mailbox_delete, name="mailbox-delete"),
    *shift_urls.urlpatterns,
]
