"""URLs of satisfaction surveys.

`urlpatterns`: agent pages (included by tickets/urls.py); `api_urlpatterns`: the API
(included by tickets/api_urls.py)."""

from django.urls import URLPattern, path

from tickets.satisfaction import api, views

urlpatterns: list[URLPattern] = [
    path(
        "satisfaction/<str:token>/",
        views.satisfaction_survey,
        name="satisfaction",
    ),
]

api_urlpatterns: list[URLPattern] = [
    path(
        "satisfaction-ratings/",
        api.SatisfactionRatingListAPI.as_view(),
        name="satisfaction-rating-list",
    ),
]
