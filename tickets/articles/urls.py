"""`urlpatterns`: agent pages (included by tickets/urls.py); `api_urlpatterns`: the API
(included by tickets/api_urls.py)."""

from django.urls import URLPattern, path

from tickets.articles import api, views

urlpatterns: list[URLPattern] = [
    path(
        "tickets/<int:number>/create-article/",
        views.ticket_create_article,
        name="ticket-create-article",
    ),
    path("tickets/<int:number>/articles/", views.article_picker, name="article-picker"),
]

api_urlpatterns: list[URLPattern] = [
    path(
        "tickets/<int:number>/article-draft/",
        api.TicketArticleDraftAPI.as_view(),
        name="ticket-article-draft",
    ),
    path(
        "tickets/<int:number>/articles/",
        api.TicketArticleListAPI.as_view(),
        name="ticket-articles",
    ),
]
