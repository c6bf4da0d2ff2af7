"""URLs of a tenant's host. The bare base domain uses helpdesk.ops.urls instead."""

from django.urls import include, path
from drf_spectacular.views import SpectacularSwaggerSplitView

from helpdesk.api.views import SchemaView

urlpatterns = [
    path("accounts/", include("helpdesk.accounts.urls")),
    path("api/v1/", include("helpdesk.accounts.api_urls")),
    path("api/v1/", include("tickets.api_urls")),
    path("api/v1/", include("departments.api_urls")),
    path("api/v1/", include("automation.api_urls")),
    path("api/v1/", include("automation.rules.api_urls")),
    path("api/v1/", include("automation.assignment.api_urls")),
    path("api/v1/", include("automation.webhooks.api_urls")),
    path("api/v1/", include("automation.integrations.api_urls")),
    path("api/v1/", include("knowledge_base.api_urls")),
    path("api/schema/", SchemaView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's set-up script from a URL, not inline: the
    # Content-Security-Policy runs no inline script.
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api-schema", permission_classes=[]),
        name="api-docs",
    ),
    path("kb/", include("knowledge_base.urls")),
    # The request form creates tickets, so it lives in tickets (the knowledge base sits
    # below it); listed first, its paths win over the help center's article slugs.
    path("help/", include("tickets.ticket.portal_urls")),
    path("help/", include("knowledge_base.public_urls")),
    path("", include("automation.urls")),
    path("", include("automation.rules.urls")),
    path("", include("automation.assignment.urls")),
    path("", include("automation.webhooks.urls")),
    path("", include("automation.integrations.urls")),
    path("settings/", include("departments.urls")),
    path("", include("tickets.urls")),
]

handler400 = "helpdesk.core.views.bad_request"
handler404 = "helpdesk.core.views.not_found"
handler500 = "helpdesk.core.views.server_error"
