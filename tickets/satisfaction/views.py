"""The customer's rating page: reached from the survey email's links, no login, on the
tenant's host (like the tracking page). GET only shows (mail scanners follow links); POST
records the rating."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from helpdesk.core import ratelimit
from helpdesk.core.errors import DomainError
from helpdesk.core.views import not_found_page
from tickets.errors import SatisfactionSurveyNotFound
from tickets.models import SatisfactionScore
from tickets.satisfaction import selectors as satisfaction_selectors
from tickets.satisfaction import services as satisfaction

# The answers as the customer reads them, in the help desk's language (the model's labels
# stay English: they are the API's and the agents').
CHOICE_LABELS: dict[str, object] = {
    SatisfactionScore.GOOD: _("Good, I'm satisfied"),
    SatisfactionScore.OKAY: _("Okay, it was all right"),
    SatisfactionScore.BAD: _("Bad, I'm unsatisfied"),
}
SCORE_WORDS: dict[str, object] = {
    SatisfactionScore.GOOD: _("good"),
    SatisfactionScore.OKAY: _("okay"),
    SatisfactionScore.BAD: _("bad"),
}


@require_http_methods(["GET", "POST"])
@ratelimit.limit_public_form
def satisfaction_survey(request: HttpRequest, token: str) -> HttpResponse:
    """The ticket's number and subject, good, okay or bad (preselected by `?score=`, else
    the current rating) and a comment, in the help desk's language; a refused answer comes
    back with its message (400)."""
    if getattr(request, "tenant", None) is None:
        return not_found_page(request, "That survey")
    try:
        rating = satisfaction_selectors.get_survey_by_token(token)
    except SatisfactionSurveyNotFound:
        return not_found_page(request, "That survey")
    error, thanked, status = "", False, 200
    chosen = request.GET.get("score", "")
    comment = rating.comment
    if request.method == "POST":
        chosen = request.POST.get("score", "")
        comment = request.POST.get("comment", "")
        try:
            rating = satisfaction.record_rating(token=token, score=chosen, comment=comment)
            thanked = True
        except SatisfactionSurveyNotFound:
            return not_found_page(request, "That survey")
        except DomainError as refused:
            error, status = str(refused), 400
    if chosen not in SatisfactionScore.values:
        chosen = rating.score
    with translation.override(request.tenant.language or "en"):  # type: ignore[attr-defined]
        response = render(
            request,
            "tickets/satisfaction.html",
            {
                "rating": rating,
                "ticket": rating.ticket,
                "chosen": chosen,
                "comment": comment,
                "choices": list(CHOICE_LABELS.items()),
                "score_name": SCORE_WORDS.get(rating.score, rating.score),
                "max_comment": satisfaction.MAX_COMMENT_LENGTH,
                "error": error,
                "thanked": thanked,
            },
            status=status,
        )
    response["X-Robots-Tag"] = "noindex"
    # Not no-referrer (as on the tracking page): browsers then send `Origin: null` with the
    # form's POST, which the CSRF check refuses. same-origin still keeps the secret link
    # from other sites.
    response["Referrer-Policy"] = "same-origin"
    return response
