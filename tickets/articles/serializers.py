"""API shapes of tickets and articles."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from tickets.models import TicketArticle


class TicketArticleDraftInput(serializers.Serializer[Any]):
    category = serializers.CharField(
        required=False, help_text="The category's id or slug (default: the first category)."
    )


class TicketArticleLinkOutput(serializers.ModelSerializer[TicketArticle]):
    title = serializers.CharField(source="article.title")
    slug = serializers.CharField(source="article.slug")

    class Meta:
        model = TicketArticle
        fields = ["article", "title", "slug", "kind", "message", "created_by", "created_at"]
