"""API: configuration (included by tickets/api_urls.py)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
