"""Reads of satisfaction surveys and ratings."""

from __future__ import annotations

import datetime
from uuid import UUID

from django.db.models import (
    Case,
    Count,
    F,
    Q,
    QuerySet,
    Value,
    When,
)

from tickets.errors import (
    SatisfactionSurveyNotFound,
)
from tickets.models import (
    SatisfactionRating,
    SatisfactionScore,
    Ticket,
)


def get_survey_by_token(token: str, *, lock: bool = False) -> SatisfactionRating:
    """The sent survey with this secret token, with its ticket, customer and agent (the
    public rating page; `lock` for recording an answer); raises SatisfactionSurveyNotFound,
    also for a survey not sent yet."""
    ratings = SatisfactionRating.objects.select_related("ticket", "contact", "assignee")
    if lock:
        ratings = ratings.select_for_update(of=("self",))
    rating = ratings.filter(token=token, sent_at__isnull=False).first()
    if rating is None:
        raise SatisfactionSurveyNotFound()
    return rating


def get_ticket_rating(ticket_id: UUID) -> SatisfactionRating | None:
    """The ticket's survey, answered or not; None when it has none."""
    return SatisfactionRating.objects.filter(ticket_id=ticket_id).first()


def list_ticket_satisfaction(
    ticket: Ticket, *, limit: int = 5
) -> tuple[SatisfactionRating | None, list[SatisfactionRating]]:
    """Beside a ticket: its own survey (or None) and the customer's latest `limit` ratings
    of other tickets, newest first. One query: the ticket page counts its queries."""
    rows: list[SatisfactionRating] = list(
        SatisfactionRating.objects.filter(
            Q(ticket_id=ticket.id) | (Q(contact_id=ticket.contact_id) & ~Q(score=""))
        )
        .select_related("ticket")
        .annotate(is_this=Case(When(ticket_id=ticket.id, then=Value(0)), default=Value(1)))
        .order_by("is_this", F("rated_at").desc(nulls_last=True), "-id")[: limit + 1]
    )
    own = rows[0] if rows and rows[0].ticket_id == ticket.id else None
    return own, [row for row in rows if row.ticket_id != ticket.id][:limit]


def list_contact_ratings(contact_id: UUID, *, limit: int = 20) -> list[SatisfactionRating]:
    """The contact's answered surveys, newest first, with their tickets."""
    return list(
        SatisfactionRating.objects.filter(contact_id=contact_id)
        .exclude(score="")
        .select_related("ticket")
        .order_by("-rated_at", "-id")[:limit]
    )


def list_rating_history(
    *, contact_id: UUID | None = None, company_id: UUID | None = None
) -> QuerySet[SatisfactionRating]:
    """Every answered survey of one contact or of one company's contacts, newest first, with
    ticket and contact loaded (contact and company pages page through them all)."""
    ratings = SatisfactionRating.objects.exclude(score="").select_related("ticket", "contact")
    if contact_id is not None:
        ratings = ratings.filter(contact_id=contact_id)
    if company_id is not None:
        ratings = ratings.filter(contact__company_id=company_id)
    return ratings.order_by("-rated_at", "-id")


def count_rating_history(
    *, contact_id: UUID | None = None, company_id: UUID | None = None
) -> dict[str, int]:
    """Good, okay and bad answers of one contact or company, all time (the summary above
    the list)."""
    counts = list_rating_history(contact_id=contact_id, company_id=company_id).aggregate(
        good=Count("id", filter=Q(score=SatisfactionScore.GOOD)),
        okay=Count("id", filter=Q(score=SatisfactionScore.OKAY)),
        bad=Count("id", filter=Q(score=SatisfactionScore.BAD)),
    )
    return {"good": counts["good"], "okay": counts["okay"], "bad": counts["bad"]}


def list_ratings(
    *,
    contact_id: UUID | None = None,
    score: str | None = None,
    ticket_number: int | None = None,
    rated_after: datetime.datetime | None = None,
    rated_before: datetime.datetime | None = None,
) -> QuerySet[SatisfactionRating]:
    """Answered surveys matching the filters, with ticket, contact and agent loaded (the
    API sorts and pages them)."""
    ratings = SatisfactionRating.objects.exclude(score="").select_related(
        "ticket", "contact", "assignee__user"
    )
    if contact_id is not None:
        ratings = ratings.filter(contact_id=contact_id)
    if score:
        ratings = ratings.filter(score=score)
    if ticket_number is not None:
        ratings = ratings.filter(ticket__number=ticket_number)
    if rated_after is not None:
        ratings = ratings.filter(rated_at__gte=rated_after)
    if rated_before is not None:
        ratings = ratings.filter(rated_at__lt=rated_before)
    return ratings


def count_ratings(*, since: datetime.datetime) -> dict[str, int]:
    """Answers rated since then, by score: {"good": n, "okay": o, "bad": m}."""
    rows = (
        SatisfactionRating.objects.filter(rated_at__gte=since)
        .exclude(score="")
        .order_by()
        .values("score")
        .annotate(total=Count("id"))
    )
    counts = dict.fromkeys(SatisfactionScore.values, 0)
    counts.update({row["score"]: row["total"] for row in rows})
    return counts
