from django.urls import path

from helpdesk.accounts import api

app_name = "accounts-api"

urlpatterns = [
    path("members/", api.MemberListAPI.as_view(), name="member-list"),
    path("members/<uuid:member_id>/", api.MemberDetailAPI.as_view(), name="member-detail"),
]
