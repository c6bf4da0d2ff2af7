from django.urls import path

from departments import api
from departments.shifts import urls as shift_urls

app_name = "departments-api"

urlpatterns = [
    path("business-hours/", api.BusinessHoursListAPI.as_view(), name="business-hours-list"),
    path(
        "business-hours/<uuid:hours_id>/",
        api.BusinessHoursDetailAPI.as_view(),
        name="business-hours-detail",
    ),
    path("departments/", api.DepartmentListAPI.as_view(), name="department-list"),
    path(
        "departments/<uuid:department_id>/",
        api.DepartmentDetailAPI.as_view(),
        name="department-detail",
    ),
    path("mailboxes/", api.MailboxListAPI.as_view(), name="mailbox-list"),
    path("mailboxes/<uuid:mailbox_id>/", api.MailboxDetailAPI.as_view(), name="mailbox-detail"),
    *shift_urls.api_urlpatterns,
]
