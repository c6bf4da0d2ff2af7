"""Satisfaction ratings API: /api/v1/satisfaction-ratings/ (the customers' answers)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from helpdesk.api.pagination import IdCursorPagination
from helpdesk.api.views import TenantAPIView
from tickets.satisfaction import selectors as satisfaction_selectors
from tickets.satisfaction.serializers import SatisfactionRatingListQuery, SatisfactionRatingOutput


class RatingCursorPagination(IdCursorPagination):
    """Newest answer first; the id breaks ties between equal times."""

    ordering = ("-rated_at", "-id")  # type: ignore[assignment]  # DRF takes a tuple too


class SatisfactionRatingListAPI(TenantAPIView):
    pagination_class = RatingCursorPagination

    @extend_schema(
        parameters=[SatisfactionRatingListQuery], responses=SatisfactionRatingOutput(many=True)
    )
    def get(self, request: Request) -> Response:
        """Answered surveys, most recently rated first, cursor-paginated; filter by contact,
        score, ticket number and when they were rated."""
        query = self.validate(SatisfactionRatingListQuery, request.query_params)
        ratings = satisfaction_selectors.list_ratings(
            contact_id=query.get("contact"),
            score=query.get("score"),
            ticket_number=query.get("ticket"),
            rated_after=query.get("rated_after"),
            rated_before=query.get("rated_before"),
        )
        return self.paginate(request, ratings, SatisfactionRatingOutput)
