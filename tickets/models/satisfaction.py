"""Satisfaction ratings: one survey per ticket, sent after it is solved, answered through
a secret link without signing in."""

from __future__ import annotations

import secrets

from django.db import models

from helpdesk.tenancy.models import TenantModel
from helpdesk.tenancy.rls import TenantFK


def new_survey_token() -> str:
    return secrets.token_urlsafe(24)


class SatisfactionScore(models.TextChoices):
    GOOD = "good", "Good, I'm satisfied"
    OKAY = "okay", "Okay, it was all right"
    BAD = "bad", "Bad, I'm unsatisfied"


class SatisfactionRating(TenantModel):
    """The survey of one ticket and, once answered, its rating.

    Created when the ticket is first solved, sent `send_after` (moved on by a later solve
    while unsent); the customer may change the rating through the same link later on.
    `assignee` is the agent who had the ticket when it was solved (whose help is rated).
    """

    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey("tickets.Contact", on_delete=models.CASCADE, related_name="+")
    assignee = models.ForeignKey(
        "tenancy.Membership", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    token = models.CharField(max_length=48, default=new_survey_token, editable=False)
    send_after = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    score = models.CharField(max_length=8, choices=SatisfactionScore.choices, blank=True)
    comment = models.TextField(blank=True)
    rated_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantModel.Meta):
        ordering = ["-rated_at"]
        constraints = [
            *TenantModel.Meta.constraints,
            TenantFK("ticket"),
            TenantFK("contact"),
            TenantFK("assignee"),
            models.UniqueConstraint(fields=["tenant", "ticket"], name="tickets_satisfaction_uniq"),
            models.UniqueConstraint(fields=["token"], name="tickets_satisfaction_token_uniq"),
            models.CheckConstraint(
                condition=models.Q(score__in=[*SatisfactionScore.values, ""]),
                name="tickets_satisfaction_score_valid",
            ),
        ]
        indexes = [
            # The survey sweeper: surveys due to go out.
            models.Index(
                fields=["send_after"],
                name="tickets_csat_due_idx",
                condition=models.Q(sent_at__isnull=True),
            ),
            # The tenant's answers newest first, and since a date (API list, reports).
            models.Index(
                fields=["tenant", "-rated_at"],
                name="tickets_csat_rated_idx",
                condition=~models.Q(score=""),
            ),
            # A contact's ratings (ticket sidebar, contact page).
            models.Index(
                fields=["tenant", "contact", "-rated_at"],
                name="tickets_csat_contact_idx",
                condition=~models.Q(score=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.score or 'unanswered'} on {self.ticket_id}"
