"""Which knowledge-base articles a ticket used: the article written from it, and those an
agent sent from the reply editor (with the message that carried them)."""

from __future__ import annotations

from django.db import models

from helpdesk.tenancy.models import TenantModel
from helpdesk.tenancy.rls import TenantFK


class TicketArticleKind(models.TextChoices):
    SOURCE = "source", "Written from the ticket"
    SENT = "sent", "Sent in a reply"


class TicketArticle(TenantModel):
    ticket = models.ForeignKey(
        "tickets.Ticket", on_delete=models.CASCADE, related_name="article_links"
    )
    article = models.ForeignKey(
        "knowledge_base.Article", on_delete=models.CASCADE, related_name="ticket_links"
    )
    message = models.ForeignKey(
        "tickets.Message",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="article_links",
    )
    kind = models.CharField(max_length=16, choices=TicketArticleKind.choices)
    created_by = models.ForeignKey(
        "tenancy.Membership", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta(TenantModel.Meta):
        ordering = ["created_at"]
        constraints = [
            *TenantModel.Meta.constraints,
            TenantFK("ticket"),
            TenantFK("article"),
            TenantFK("message"),
            TenantFK("created_by"),
            models.CheckConstraint(
                condition=models.Q(kind__in=TicketArticleKind.values),
                name="tickets_ticketarticle_kind_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "ticket"], name="tickets_ticketarticle_tkt_idx"),
            models.Index(fields=["tenant", "article"], name="tickets_ticketarticle_art_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.kind} {self.article_id}"
