"""Agent pages: contacts (included by tickets/urls.py)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
