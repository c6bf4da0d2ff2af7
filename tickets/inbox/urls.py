"""URLs of the inbox: filters, list and search, saved views, bulk actions.

`urlpatterns`: agent pages (included by tickets/urls.py); `api_urlpatterns`: the API
(included by tickets/api_urls.py)."""

from django.urls import URLPattern, path

from tickets.inbox import api, views

urlpatterns: list[URLPattern] = [
    path("", views.home, name="home"),
    path("inbox/", views.inbox_page, name="inbox"),
    path("inbox/bulk/", views.inbox_bulk, name="inbox-bulk"),
    path("inbox/views/", views.saved_view_create, name="saved-view-create"),
    path(
        "inbox/views/<uuid:view_id>/delete/",
        views.saved_view_delete,
        name="saved-view-delete",
    ),
]

api_urlpatterns: list[URLPattern] = [
    path("tickets/bulk/", api.BulkActionAPI.as_view(), name="ticket-bulk"),
    path("saved-views/", api.SavedViewListAPI.as_view(), name="saved-view-list"),
    path(
        "saved-views/<uuid:view_id>/",
        api.SavedViewDetailAPI.as_view(),
        name="saved-view-detail",
    ),
]
