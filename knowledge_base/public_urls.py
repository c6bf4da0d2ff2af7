"""Public pages of the knowledge base, without login: the help center and published
articles by their link."""

from django.urls import path

from knowledge_base import views

app_name = "help"

urlpatterns = [
    path("", views.help_center, name="home"),
    path("<slug:slug>/", views.public_article, name="article"),
]
