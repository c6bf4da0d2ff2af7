"""Public pages of the knowledge base, without login: the help center, its search, an
article by its link (what agents send customers) and the request form's suggestions. The
fixed paths come before `<slug>/`, so no article slug can hide them (the request form,
/help/request/, is tickets.ticket.portal_urls, included first)."""

from django.urls import path

from knowledge_base import public_views

app_name = "help"

urlpatterns = [
    path("", public_views.home, name="home"),
    path("search/", public_views.search, name="search"),
    path("suggest/", public_views.suggest, name="suggest"),
    path("theme.css", public_views.theme, name="theme"),
    path("logo/", public_views.logo, name="logo"),
    path("<slug:slug>/", public_views.article, name="article"),
    path("<slug:slug>/vote/", public_views.vote, name="vote"),
]
