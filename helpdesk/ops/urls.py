"""URLs of the bare base domain: the platform area."""

from django.urls import include, path

from helpdesk.ops import views

urlpatterns = [
    path("", views.tenant_list, name="ops-tenants"),
    path("outbox/", views.outbox, name="ops-outbox"),
    path("outbox/<str:name>", views.outbox_message, name="ops-outbox-message"),
    path("accounts/", include("helpdesk.accounts.urls")),
]

handler404 = "helpdesk.core.views.not_found"
handler500 = "helpdesk.core.views.server_error"
