"""POST /api/v1/tickets/<number>/article-draft/ (a draft article from a solved ticket: 201,
the article) and GET /api/v1/tickets/<number>/articles/ (the articles the ticket used).
Light agents may read but not draft (403)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status as http
from rest_framework.request import Request
from rest_framework.response import Response

from helpdesk.api.permissions import CanWriteArticlesOrReadOnly, IsTenantMember
from helpdesk.api.views import TenantAPIView
from knowledge_base import selectors as kb_selectors
from knowledge_base.errors import CategoryNotFound, InvalidArticle
from knowledge_base.serializers import KbArticleOutput
from tickets.articles import selectors, services
from tickets.articles.serializers import TicketArticleDraftInput, TicketArticleLinkOutput


class TicketArticleDraftAPI(TenantAPIView):
    permission_classes = [IsTenantMember, CanWriteArticlesOrReadOnly]
    pagination_class = None

    @extend_schema(request=TicketArticleDraftInput, responses={201: KbArticleOutput})
    def post(self, request: Request, number: int) -> Response:
        """A draft article from the ticket's resolution: its subject as the title, the final
        public reply (and the last internal note, marked for review) as the body, linked
        back to the ticket. 409 `ticket_not_solved` unless the ticket is solved or closed."""
        ticket = selectors.get_ticket(number)
        data = self.validate(TicketArticleDraftInput, request.data or {})
        category = None
        if data.get("category"):
            try:
                category = kb_selectors.find_category(data["category"])
            except CategoryNotFound:
                raise InvalidArticle(f"No category {data['category']!r}.") from None
        article = services.draft_article_from_ticket(
            ticket=ticket, actor=self.membership, category=category
        )
        article = kb_selectors.get_article(article.id)
        return Response(KbArticleOutput(article).data, status=http.HTTP_201_CREATED)


class TicketArticleListAPI(TenantAPIView):
    pagination_class = None

    @extend_schema(responses=TicketArticleLinkOutput(many=True))
    def get(self, request: Request, number: int) -> Response:
        """The articles written from the ticket (`source`) and sent in its replies (`sent`)."""
        links = selectors.list_ticket_articles(selectors.get_ticket(number))
        return Response(TicketArticleLinkOutput(links, many=True).data)
