from django.urls import path

from departments import views

app_name = "departments"

urlpatterns = [
    path("", views.admin_overview, name="admin"),
    path("mailboxes/new/", views.mailbox_edit, name="mailbox-new"),
    path("mailboxes/<uuid:mailbox_id>/", views.mailbox_edit, name="mailbox-edit"),
    path("mailboxes/<uuid:mailbox_id>/delete/", views.mailbox_delete, name="mailbox-delete"),
]
