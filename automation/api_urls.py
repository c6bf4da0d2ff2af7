from django.urls import path

from automation import api

app_name = "automation-api"

urlpatterns = [
    path("canned-responses/", api.CannedResponseListAPI.as_view(), name="canned-response-list"),
    path(
        "canned-responses/<uuid:response_id>/",
        api.CannedResponseDetailAPI.as_view(),
        name="canned-response-detail",
    ),
    path(
        "canned-responses/<uuid:response_id>/render/",
        api.CannedResponseRenderAPI.as_view(),
        name="canned-response-render",
    ),
]
