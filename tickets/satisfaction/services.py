"""Satisfaction ratings (CSAT): the survey of a solved ticket and the customer's answer.

Rules: one survey per ticket, created when the ticket is solved (the tenant's setting on,
not spam, the customer's address not bounced) and emailed `satisfaction_delay_hours`
later; a later solve moves an unsent survey on, and a sent one is never sent again (the
customer changes the rating through the same link). Due surveys are claimed with
`SKIP LOCKED` and marked sent in the transaction that queues the mail, so two workers
never send one twice. A ticket open again when its survey falls due is skipped until it
is solved or closed. Only a sent survey can be answered: good, okay or bad, with an optional
comment; each change of score is a `satisfaction` event on the ticket and a notification
to the agent who had the ticket when it was solved.
"""

from __future__ import annotations

import datetime

from django.db import transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from helpdesk.core import placeholders
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.models import Tenant
from tickets.configuration import services as configuration
from tickets.errors import (
    SatisfactionCommentTooLong,
    SatisfactionScoreInvalid,
)
from tickets.mail_out import selectors as mail_out_selectors
from tickets.mail_out import templates as mail_templates
from tickets.models import (
    RESOLVED_STATUSES,
    EmailTemplateKind,
    NotificationKind,
    SatisfactionRating,
    SatisfactionScore,
    Ticket,
)
from tickets.notifications import services as notifications
from tickets.satisfaction import selectors as satisfaction_selectors
from tickets.signals import rating_received
from tickets.ticket import services

MAX_COMMENT_LENGTH = 2000
# At most this many surveys per tenant and run; the next run (a minute later) goes on.
SEND_BATCH = 200
SCORE_NAMES = {
    SatisfactionScore.GOOD: "Good",
    SatisfactionScore.OKAY: "Okay",
    SatisfactionScore.BAD: "Bad",
}


def can_survey(ticket: Ticket) -> bool:
    """May this ticket's customer be asked: not spam, not merged away, an address that works."""
    contact = ticket.contact
    return (
        not ticket.is_spam
        and ticket.merged_into_id is None
        and bool(contact.email)
        and contact.email_bounced_at is None
    )


@transaction.atomic
def schedule_survey(
    *, ticket: Ticket, now: datetime.datetime | None = None
) -> SatisfactionRating | None:
    """Plan the ticket's survey on a solve: created `satisfaction_delay_hours` from now, or,
    while still unsent, moved on to that time (with the agent who has the ticket now).
    Nothing when the tenant switched surveys off or the ticket cannot be surveyed; a sent
    survey stays as it is. Returns the survey, or None."""
    settings = configuration.get_settings()
    if not settings.satisfaction_enabled or not can_survey(ticket):
        return None
    send_after = (now or timezone.now()) + datetime.timedelta(
        hours=settings.satisfaction_delay_hours
    )
    # get_or_create retries the read when a concurrent solve inserted the row first.
    rating, created = SatisfactionRating.objects.select_for_update().get_or_create(
        ticket=ticket,
        defaults={
            "contact_id": ticket.contact_id,
            "assignee_id": ticket.assignee_id,
            "send_after": send_after,
        },
    )
    if not created and rating.sent_at is None:
        rating.send_after = send_after
        rating.contact_id = ticket.contact_id
        rating.assignee_id = ticket.assignee_id
        rating.save(update_fields=["send_after", "contact", "assignee", "updated_at"])
    return rating


def filter_due(
    surveys: QuerySet[SatisfactionRating], now: datetime.datetime
) -> QuerySet[SatisfactionRating]:
    """The unsent surveys due by `now` whose ticket may be surveyed at this moment (solved
    or closed, not spam, not merged, the address not bounced). Also used, on every tenant's
    rows, by the beat task that finds the tenants with work."""
    return surveys.filter(
        sent_at__isnull=True,
        send_after__lte=now,
        ticket__status__in=RESOLVED_STATUSES,
        ticket__is_spam=False,
        ticket__merged_into__isnull=True,
        ticket__contact__email_bounced_at__isnull=True,
    )


@transaction.atomic
def send_due_surveys(*, now: datetime.datetime | None = None, limit: int = SEND_BATCH) -> int:
    """Email the current tenant's due surveys; returns how many went out.

    Rows are locked with SKIP LOCKED and marked sent in this transaction, and the mail is
    delivered only after it commits: a concurrent or repeated run sends nothing twice.
    """
    now = now or timezone.now()
    due = list(
        filter_due(SatisfactionRating.objects.all(), now)
        .select_for_update(of=("self",), skip_locked=True)
        .select_related(
            "ticket__tenant",
            "ticket__contact",
            "ticket__department",
            "ticket__mailbox",
            "assignee__user",
        )
        .order_by("send_after", "id")[:limit]
    )
    for rating in due:
        _queue_survey_email(rating)
        rating.sent_at = timezone.now()
        rating.save(update_fields=["sent_at", "updated_at"])
    return len(due)


def survey_link(*, tenant: Tenant, token: str, score: str = "") -> str:
    """Absolute URL of the public rating page on the tenant's host (`score` preselects)."""
    url = tenancy_selectors.tenant_base_url(tenant) + reverse("tickets:satisfaction", args=[token])
    return f"{url}?score={score}" if score else url


def _queue_survey_email(rating: SatisfactionRating) -> None:
    ticket = rating.ticket
    tenant = ticket.tenant
    values = mail_templates.placeholder_values(
        ticket,
        mail_out_selectors.get_reply_mailbox(ticket),
        tenant.name,
        agent_name=rating.assignee.user.display_name if rating.assignee else "",
    )
    values["satisfaction.good_link"] = survey_link(
        tenant=tenant, token=rating.token, score=SatisfactionScore.GOOD
    )
    values["satisfaction.okay_link"] = survey_link(
        tenant=tenant, token=rating.token, score=SatisfactionScore.OKAY
    )
    values["satisfaction.bad_link"] = survey_link(
        tenant=tenant, token=rating.token, score=SatisfactionScore.BAD
    )
    try:
        subject, body = mail_templates.compose(
            kind=EmailTemplateKind.SATISFACTION_REQUEST,
            department_id=ticket.department_id,
            values=values,
            language=tenant.language,
        )
    except placeholders.UnknownPlaceholder:
        # A template broken after it was saved: the built-in wording still asks.
        kind = EmailTemplateKind.SATISFACTION_REQUEST
        subject = placeholders.render(
            mail_templates.built_in(kind, "subject", tenant.language), values
        )
        body = placeholders.render(mail_templates.built_in(kind, "body", tenant.language), values)
    # A public reply on the ticket: it threads in the customer's mail client (our
    # Message-ID, In-Reply-To, the ticket's reply address) and shows in the history.
    services.queue_email_message(ticket=ticket, body=body, is_automatic=True, subject=subject)


def clean_comment(comment: str) -> str:
    """The comment as stored: trimmed, without NUL (PostgreSQL refuses it in text).
    Raises SatisfactionCommentTooLong."""
    comment = comment.replace("\x00", "").strip()
    if len(comment) > MAX_COMMENT_LENGTH:
        raise SatisfactionCommentTooLong(
            f"The comment is too long: at most {MAX_COMMENT_LENGTH:,} characters, please."
        )
    return comment


@transaction.atomic
def record_rating(
    *, token: str, score: str, comment: str = "", now: datetime.datetime | None = None
) -> SatisfactionRating:
    """Store the customer's answer to a sent survey, or their changed mind (same row).

    A new or changed score is recorded as a `satisfaction` event on the ticket (from the
    old score to the new) and told to the agent whose help is rated; a changed comment
    alone is stored quietly. Raises SatisfactionScoreInvalid, SatisfactionCommentTooLong,
    SatisfactionSurveyNotFound (unknown token, another tenant's, or not sent yet).
    """
    if score not in SatisfactionScore.values:
        raise SatisfactionScoreInvalid("Choose good, okay or bad.", score=str(score)[:20])
    comment = clean_comment(comment)
    rating = satisfaction_selectors.get_survey_by_token(token, lock=True)
    old = rating.score
    if (old, rating.comment) == (score, comment):
        return rating
    rating.score, rating.comment, rating.rated_at = score, comment, now or timezone.now()
    rating.save(update_fields=["score", "comment", "rated_at", "updated_at"])
    if old != score:
        event = services.record_event(
            ticket=rating.ticket,
            actor=None,
            field="satisfaction",
            old=old or None,
            new=score,
            author_contact=rating.contact,
        )
        notifications.notify_on_commit(
            kind=NotificationKind.SATISFACTION_RATED,
            members=[rating.assignee],
            ticket=rating.ticket,
            actor=None,
            message=event,
        )
        rating_received.send(
            sender=SatisfactionRating,
            tenant_id=rating.tenant_id,
            ticket_id=rating.ticket_id,
            rating_id=rating.id,
        )
    return rating
