"""Agent pages: configuration (included by tickets/urls.py)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
