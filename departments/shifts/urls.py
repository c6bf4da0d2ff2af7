"""Shift pages (included by departments/urls.py, under /settings/) and API (included by
departments/api_urls.py, under /api/v1/)."""

from __future__ import annotations

from django.urls import URLPattern, path

from departments.shifts import api, views

urlpatterns: list[URLPattern] = [
    path("members/<uuid:member_id>/shift/", views.member_shift, name="member-shift"),
]

api_urlpatterns: list[URLPattern] = [
    path("members/<uuid:member_id>/shift/", api.MemberShiftAPI.as_view(), name="member-shift"),
    path("members/<uuid:member_id>/leave/", api.MemberLeaveListAPI.as_view(), name="member-leave"),
    path(
        "members/<uuid:member_id>/leave/<uuid:leave_id>/",
        api.MemberLeaveDetailAPI.as_view(),
        name="member-leave-detail",
    ),
]
