"""Public pages of the knowledge base, without login: published articles by their link."""

from django.urls import path

from knowledge_base import views

app_name = "help"

urlpatterns = [
    path("<slug:slug>/", views.public_article, name="article"),
]
