"""URLs of the bare base domain: the platform area."""

from django.urls import include, path

from helpdesk.ops import views

urlpatterns = [
    path("", views.tenant_list, name="ops-tenants"),
    path("outbox/", views.outbox, name="ops-outbox"),
    path("outbox/<str:name>", views.outbox_message, name="ops-outbox-message"),
    path("accounts/", include("helpdesk.accounts.urls")),
    # ESP webhooks (inbound mail, delivery tracking) answer on every host, with no tenant
    # context: the tenant is found from each message's recipient.
    path("anymail/", include("anymail.urls")),
]

handler400 = "helpdesk.core.views.bad_request"
handler404 = "helpdesk.core.views.not_found"
handler500 = "helpdesk.core.views.server_error"
