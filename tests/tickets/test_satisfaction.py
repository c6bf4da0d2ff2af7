"""Satisfaction ratings: the survey planned on a solve and sent once after the delay, the
public rating page, events and notifications, what agents see, settings, the API and the
beat task."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.test import Client
from django.utils import timezone
from pytest_django import DjangoCaptureOnCommitCallbacks

from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import Membership, MembershipRole, Tenant
from tests.conftest import TenantSetup, make_tenant
from tests.factories.accounts import make_member
from tests.factories.tickets import make_contact, make_ticket
from tests.tickets.test_inbound import build, deliver
from tickets.configuration import services as configuration
from tickets.contacts import services as contacts
from tickets.errors import (
    ConfigurationInvalid,
    SatisfactionCommentTooLong,
    SatisfactionScoreInvalid,
    SatisfactionSurveyNotFound,
)
from tickets.models import (
    Contact,
    Message,
    MessageKind,
    Notification,
    NotificationKind,
    SatisfactionRating,
    Ticket,
)
from tickets.satisfaction import selectors as satisfaction_selectors
from tickets.satisfaction import services as satisfaction
from tickets.satisfaction import tasks as satisfaction_tasks
from tickets.ticket import services

LATER = timedelta(days=2)


def _settings(captured: DjangoCaptureOnCommitCallbacks, **values: Any) -> None:
    """Change the workspace settings as if committed (the cached configuration sees it)."""
    with captured(execute=True):
        configuration.update_settings(**values)


def _solve(ticket: Ticket, actor: Membership | None = None) -> Ticket:
    return services.change_status(ticket=ticket, status="solved", actor=actor)


def _sent_survey(
    setup: TenantSetup,
    *,
    subject: str = "Printer on fire",
    assignee: Membership | None = None,
    contact: Contact | None = None,
) -> tuple[Ticket, SatisfactionRating]:
    """A solved ticket whose survey went out (the mail stays queued: no commit here)."""
    with tenant_context(setup.id):
        ticket = make_ticket(subject=subject, contact=contact)
        if assignee is not None:
            services.assign_ticket(ticket=ticket, assignee=assignee, actor=None)
        _solve(ticket)
        assert satisfaction.send_due_surveys(now=timezone.now() + LATER) == 1
        return ticket, SatisfactionRating.objects.get(ticket=ticket)


# --- Planning the survey ---------------------------------------------------------------


def test_solving_plans_a_survey_after_the_delay(tenant: TenantSetup) -> None:
    ana = make_member(tenant.tenant, name="Ana Agent")
    ticket = make_ticket()
    services.assign_ticket(ticket=ticket, assignee=ana, actor=None)
    before = timezone.now()
    _solve(ticket, actor=ana)
    rating = SatisfactionRating.objects.get(ticket=ticket)
    assert (rating.contact_id, rating.assignee_id) == (ticket.contact_id, ana.id)
    assert before + timedelta(hours=24) <= rating.send_after <= timezone.now() + timedelta(hours=24)
    assert (rating.sent_at, rating.score, rating.rated_at) == (None, "", None)
    assert len(rating.token) >= 32


def test_delay_comes_from_the_settings(
    tenant: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    _settings(django_capture_on_commit_callbacks, satisfaction_delay_hours=0)
    before = timezone.now()
    ticket = make_ticket()
    _solve(ticket)
    rating = SatisfactionRating.objects.get(ticket=ticket)
    assert before <= rating.send_after <= timezone.now()


def test_no_survey_when_switched_off(
    tenant: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    _settings(django_capture_on_commit_callbacks, satisfaction_enabled=False)
    _solve(make_ticket())
    assert not SatisfactionRating.objects.exists()


def test_no_survey_for_spam_or_a_bounced_address(tenant: TenantSetup) -> None:
    spam = make_ticket()
    services.mark_spam(ticket=spam, actor=tenant.admin)
    _solve(spam)
    bounced = make_ticket(contact=make_contact(email_bounced_at=timezone.now()))
    _solve(bounced)
    assert not SatisfactionRating.objects.exists()


def test_no_survey_for_other_statuses(tenant: TenantSetup) -> None:
    ticket = make_ticket()
    for status in ("waiting", "on_hold", "closed"):
        services.change_status(ticket=ticket, status=status, actor=None)
    assert not SatisfactionRating.objects.exists()


def test_solving_again_moves_an_unsent_survey_on(tenant: TenantSetup) -> None:
    ana = make_member(tenant.tenant)
    ticket = make_ticket()
    _solve(ticket)
    first = SatisfactionRating.objects.get(ticket=ticket).send_after
    services.change_status(ticket=ticket, status="open", actor=None)
    services.assign_ticket(ticket=ticket, assignee=ana, actor=None)
    _solve(ticket)
    rating = SatisfactionRating.objects.get(ticket=ticket)
    assert rating.send_after > first
    assert rating.assignee_id == ana.id  # whose help the customer now rates


def test_a_sent_survey_is_never_planned_or_sent_again(tenant: TenantSetup) -> None:
    ticket = make_ticket()
    _solve(ticket)
    assert satisfaction.send_due_surveys(now=timezone.now() + LATER) == 1
    sent = SatisfactionRating.objects.get(ticket=ticket)
    services.change_status(ticket=ticket, status="open", actor=None)
    _solve(ticket)
    again = SatisfactionRating.objects.get(ticket=ticket)
    assert (again.send_after, again.sent_at, again.token) == (
        sent.send_after,
        sent.sent_at,
        sent.token,
    )
    assert satisfaction.send_due_surveys(now=timezone.now() + 2 * LATER) == 0
    assert SatisfactionRating.objects.count() == 1


# --- Sending ---------------------------------------------------------------------------


def test_due_survey_is_emailed_once_in_the_thread(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    deliver(acme, build(subject="Printer on fire", message_id="<q@example.test>"))
    with tenant_context(acme.id):
        ana = make_member(acme.tenant, name="Ana Agent")
        ticket = Ticket.objects.get()
        services.assign_ticket(ticket=ticket, assignee=ana, actor=ana)
        _solve(ticket, actor=ana)
        assert satisfaction.send_due_surveys() == 0  # not due before the delay
        with django_capture_on_commit_callbacks(execute=True):
            assert satisfaction.send_due_surveys(now=timezone.now() + LATER) == 1
        with django_capture_on_commit_callbacks(execute=True):
            assert satisfaction.send_due_surveys(now=timezone.now() + LATER) == 0
        rating = SatisfactionRating.objects.get()
        queued = Message.objects.get(ticket=ticket, email_subject__startswith="How did we do?")
    assert rating.sent_at is not None
    assert queued.is_automatic
    assert queued.email_subject == f"How did we do? [#{ticket.number}]"
    [sent] = mail.outbox
    assert sent.to == ["carla@example.test"]
    assert sent.subject == f"How did we do? [#{ticket.number}]"
    headers = sent.message()
    # In the thread: after the acknowledgement, which answered the customer's first mail.
    assert headers["In-Reply-To"].startswith("<ack-")
    assert headers["References"].startswith("<q@example.test> <ack-")
    assert headers["Auto-Submitted"] == "auto-replied"
    assert "+t-" in headers["Reply-To"]
    link = f"http://acme.localhost/satisfaction/{rating.token}/"
    assert f"{link}?score=good" in sent.body
    assert f"{link}?score=bad" in sent.body
    assert f"Okay, it was all right: {link}?score=okay" in sent.body
    assert isinstance(sent, EmailMultiAlternatives)
    html = sent.alternatives[0][0]
    assert isinstance(html, str)
    assert f'href="{link}?score=bad"' in html  # clickable in HTML
    assert "Hello Carla" in sent.body


def test_reopened_ticket_is_skipped_until_solved_again(tenant: TenantSetup) -> None:
    ticket = make_ticket()
    _solve(ticket)
    services.add_customer_message(ticket=ticket, contact=ticket.contact, body="Still broken")
    assert Ticket.objects.get(id=ticket.id).status == "open"
    assert satisfaction.send_due_surveys(now=timezone.now() + LATER) == 0
    assert SatisfactionRating.objects.get(ticket=ticket).sent_at is None
    _solve(Ticket.objects.get(id=ticket.id))
    assert satisfaction.send_due_surveys(now=timezone.now() + LATER) == 1


def test_spam_or_bounce_after_solving_holds_the_survey_back(tenant: TenantSetup) -> None:
    spam, bounced = make_ticket(), make_ticket()
    _solve(spam)
    _solve(bounced)
    services.mark_spam(ticket=spam, actor=tenant.admin)
    bounced.contact.email_bounced_at = timezone.now()
    bounced.contact.save()
    assert satisfaction.send_due_surveys(now=timezone.now() + LATER) == 0


def test_template_wording_and_links_are_placeholders(tenant: TenantSetup) -> None:
    from tickets.mail_out import templates

    templates.save_template(
        actor=None,
        kind="satisfaction_request",
        department=None,
        subject="Rate #{{ ticket.number }}",
        body="Yes: {{ satisfaction.good_link }} No: {{ satisfaction.bad_link }}",
    )
    ticket = make_ticket()
    _solve(ticket)
    satisfaction.send_due_surveys(now=timezone.now() + LATER)
    token = SatisfactionRating.objects.get().token
    queued = Message.objects.get(ticket=ticket, kind=MessageKind.REPLY)
    assert queued.email_subject == f"Rate #{ticket.number}"
    assert f"Yes: http://acme.localhost/satisfaction/{token}/?score=good No:" in queued.body_text
    # Other mail leaves the survey links empty.
    values = templates.placeholder_values(ticket, None, "Acme")
    assert values["satisfaction.good_link"] == values["satisfaction.bad_link"] == ""
    assert "?score=good" in templates.preview(body="{{ satisfaction.good_link }}").body


# --- Recording a rating ----------------------------------------------------------------


def test_record_rating_validates_score_and_comment(tenant: TenantSetup) -> None:
    ticket = make_ticket()
    _solve(ticket)
    rating = SatisfactionRating.objects.get()
    with pytest.raises(SatisfactionSurveyNotFound):  # not sent yet
        satisfaction.record_rating(token=rating.token, score="good")
    satisfaction.send_due_surveys(now=timezone.now() + LATER)
    with pytest.raises(SatisfactionScoreInvalid):
        satisfaction.record_rating(token=rating.token, score="meh")
    with pytest.raises(SatisfactionCommentTooLong):
        satisfaction.record_rating(token=rating.token, score="bad", comment="x" * 2001)
    with pytest.raises(SatisfactionSurveyNotFound):
        satisfaction.record_rating(token="nope", score="good")
    stored = satisfaction.record_rating(
        token=rating.token, score="bad", comment="  Slow\x00 answers  "
    )
    assert (stored.score, stored.comment) == ("bad", "Slow answers")


def test_rating_records_an_event_and_tells_the_agent(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    with tenant_context(acme.id):
        ana = make_member(acme.tenant, name="Ana Agent", email="ana@acme.test")
    ticket, rating = _sent_survey(acme, assignee=ana)
    client = acme.client()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/satisfaction/{rating.token}/", {"score": "bad", "comment": "Took a week."})
    with tenant_context(acme.id):
        [event] = Message.objects.filter(ticket=ticket, event__field="satisfaction")
        [notice] = Notification.objects.filter(kind=NotificationKind.SATISFACTION_RATED)
    assert event.event == {"field": "satisfaction", "from": None, "to": "bad"}
    assert event.author_contact_id == ticket.contact_id
    assert (notice.member_id, notice.message_id, notice.actor_id) == (ana.id, event.id, None)
    [email] = [m for m in mail.outbox if m.to == ["ana@acme.test"]]
    assert email.subject == f"[#{ticket.number}] The customer rated your help"
    assert "Bad: Took a week." in email.body
    listed = acme.client(ana).get("/notifications/").content.decode()
    assert "rated your help on" in listed
    page = acme.client(ana).get(f"/tickets/{ticket.number}/").content.decode()
    assert "changed satisfaction rating to <strong>Bad</strong>" in page


def test_rerating_updates_the_same_row(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    with tenant_context(acme.id):
        ana = make_member(acme.tenant)
    ticket, rating = _sent_survey(acme, assignee=ana)
    client = acme.client()
    client.post(f"/satisfaction/{rating.token}/", {"score": "bad", "comment": "Slow"})
    client.post(f"/satisfaction/{rating.token}/", {"score": "bad", "comment": "Slow, but fixed"})
    client.post(f"/satisfaction/{rating.token}/", {"score": "good", "comment": "Fixed"})
    with tenant_context(acme.id):
        stored = SatisfactionRating.objects.get()
        events = [
            m.event
            for m in Message.objects.filter(ticket=ticket, event__field="satisfaction").order_by(
                "created_at"
            )
        ]
        notices = Notification.objects.filter(kind=NotificationKind.SATISFACTION_RATED).count()
    assert (stored.id, stored.score, stored.comment) == (rating.id, "good", "Fixed")
    # A comment alone changes quietly; each new score is an event and a notification.
    assert [(e["from"], e["to"]) for e in events] == [(None, "bad"), ("bad", "good")]
    assert notices == 2


# --- The public page -------------------------------------------------------------------


def test_page_shows_the_choice_and_get_records_nothing(acme: TenantSetup) -> None:
    ticket, rating = _sent_survey(acme, subject="Printer on fire")
    response = acme.client().get(f"/satisfaction/{rating.token}/?score=bad")
    page = response.content.decode()
    assert response.status_code == 200
    assert f"Request #{ticket.number}" in page
    assert "Printer on fire" in page
    assert re.search(r'value="bad" id="score-bad" required checked', page)
    assert not re.search(r'value="good" id="score-good" required checked', page)
    assert response["X-Robots-Tag"] == "noindex"
    # The token stays on this site, and the form's POST still carries an Origin for CSRF.
    assert response["Referrer-Policy"] == "same-origin"
    with tenant_context(acme.id):
        stored = SatisfactionRating.objects.get()
        assert not Message.objects.filter(event__field="satisfaction").exists()
    assert (stored.score, stored.rated_at) == ("", None)


def test_post_records_and_the_page_shows_the_rating(acme: TenantSetup) -> None:
    _, rating = _sent_survey(acme)
    client = acme.client()
    thanked = client.post(f"/satisfaction/{rating.token}/", {"score": "good", "comment": "Quick"})
    assert thanked.status_code == 200
    assert "Thank you" in thanked.content.decode()
    with tenant_context(acme.id):
        stored = SatisfactionRating.objects.get()
    assert (stored.score, stored.comment) == ("good", "Quick")
    assert stored.rated_at is not None
    again = client.get(f"/satisfaction/{rating.token}/").content.decode()
    assert "You rated our help <strong>good</strong>" in again
    assert re.search(r'value="good" id="score-good" required checked', again)
    assert "Quick</textarea>" in again


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"score": "meh"}, "Choose good, okay or bad."),
        ({}, "Choose good, okay or bad."),
        ({"score": "OKAY"}, "Choose good, okay or bad."),
        ({"score": "good", "comment": "x" * 2001}, "at most 2,000 characters"),
    ],
)
def test_bad_post_shows_the_form_again(
    acme: TenantSetup, data: dict[str, str], message: str
) -> None:
    _, rating = _sent_survey(acme)
    response = acme.client().post(f"/satisfaction/{rating.token}/", data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert 'method="post"' in response.content.decode()
    with tenant_context(acme.id):
        assert SatisfactionRating.objects.get().score == ""


def test_unknown_or_unsent_token_is_404(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        ticket = make_ticket()
        _solve(ticket)
        unsent = SatisfactionRating.objects.get(ticket=ticket)
    client = acme.client()
    assert client.get("/satisfaction/no-such-token/").status_code == 404
    assert client.post("/satisfaction/no-such-token/", {"score": "good"}).status_code == 404
    assert client.get(f"/satisfaction/{unsent.token}/").status_code == 404


def test_another_tenants_token_is_404(acme: TenantSetup, globex: TenantSetup) -> None:
    _, rating = _sent_survey(acme, subject="Acme secret")
    client = globex.client()
    response = client.get(f"/satisfaction/{rating.token}/")
    assert response.status_code == 404
    assert b"Acme secret" not in response.content
    assert client.post(f"/satisfaction/{rating.token}/", {"score": "bad"}).status_code == 404
    with tenant_context(acme.id):
        assert SatisfactionRating.objects.get().score == ""


def test_post_needs_the_csrf_token(acme: TenantSetup) -> None:
    _, rating = _sent_survey(acme)
    client = Client(HTTP_HOST=acme.host, enforce_csrf_checks=True)
    assert client.post(f"/satisfaction/{rating.token}/", {"score": "good"}).status_code == 403
    page = client.get(f"/satisfaction/{rating.token}/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    assert token
    posted = client.post(
        f"/satisfaction/{rating.token}/",
        {"score": "good", "csrfmiddlewaretoken": token.group(1)},
    )
    assert posted.status_code == 200


def test_tracking_page_offers_the_rating_once_sent_and_solved(acme: TenantSetup) -> None:
    from tickets.mail_out import tracking

    ticket, rating = _sent_survey(acme)
    client = acme.client()
    page = client.get(f"/track/{tracking.tracking_token(ticket.id)}/").content.decode()
    assert f'id="satisfaction-link">How did we do? <a href="/satisfaction/{rating.token}/"' in page
    with tenant_context(acme.id):
        other = make_ticket()
        _solve(other)  # planned, not sent yet
        reopened = Ticket.objects.get(id=ticket.id)
        services.change_status(ticket=reopened, status="open", actor=None)
    for tracked in (ticket, other):
        page = client.get(f"/track/{tracking.tracking_token(tracked.id)}/").content.decode()
        assert 'id="satisfaction-link"' not in page


# --- What agents see -------------------------------------------------------------------


def test_sidebar_shows_the_rating_and_earlier_ones(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        carla = make_contact(email="carla@example.test")
    first, first_rating = _sent_survey(acme, subject="Old one", contact=carla)
    acme.client().post(
        f"/satisfaction/{first_rating.token}/", {"score": "bad", "comment": "Too slow"}
    )
    second, second_rating = _sent_survey(acme, subject="New one", contact=carla)
    with tenant_context(acme.id):
        fresh = make_ticket(contact=carla)
    client = acme.client(acme.admin)

    page = client.get(f"/tickets/{second.number}/").content.decode()
    sidebar = page[page.index('id="satisfaction"') :]
    assert "Survey sent" in sidebar
    assert "no answer yet" in sidebar
    assert f"#{first.number}</a>" in sidebar
    assert "Too slow" in sidebar

    acme.client().post(f"/satisfaction/{second_rating.token}/", {"score": "good"})
    fragment = client.get(f"/tickets/{second.number}/?fragment=sidebar", HTTP_HX_REQUEST="true")
    sidebar = fragment.content.decode()
    assert 'class="badge csat-good">Good' in sidebar

    page = client.get(f"/tickets/{fresh.number}/").content.decode()
    sidebar = page[page.index('id="satisfaction"') :]
    assert "No survey." in sidebar
    assert f"#{first.number}</a>" in sidebar
    assert f"#{second.number}</a>" in sidebar


def test_contact_page_lists_the_ratings(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        carla = make_contact(email="carla@example.test")
    ticket, rating = _sent_survey(acme, subject="Printer on fire", contact=carla)
    client = acme.client(acme.admin)
    assert "No ratings yet." in client.get(f"/contacts/{carla.id}/").content.decode()
    acme.client().post(f"/satisfaction/{rating.token}/", {"score": "bad", "comment": "Meh"})
    page = client.get(f"/contacts/{carla.id}/").content.decode()
    ratings = page[page.index('id="contact-ratings"') :]
    assert f"#{ticket.number} Printer on fire" in ratings
    assert 'class="badge csat-bad">Bad' in ratings
    assert "Meh" in ratings


def test_contact_merge_moves_the_ratings(tenant: TenantSetup) -> None:
    keep, duplicate = make_contact(), make_contact()
    ticket = make_ticket(contact=duplicate)
    _solve(ticket)
    contacts.merge_contacts(survivor=keep, duplicate=duplicate, actor=tenant.admin)
    assert SatisfactionRating.objects.get(ticket=ticket).contact_id == keep.id


def test_selectors_are_scoped_to_the_tenant(acme: TenantSetup, globex: TenantSetup) -> None:
    _, rating = _sent_survey(acme)
    acme.client().post(f"/satisfaction/{rating.token}/", {"score": "good"})
    with tenant_context(globex.id):
        assert list(satisfaction_selectors.list_ratings()) == []
        assert satisfaction_selectors.list_contact_ratings(rating.contact_id) == []
        assert satisfaction_selectors.get_ticket_rating(rating.ticket_id) is None
        assert satisfaction_selectors.count_ratings(since=timezone.now() - LATER) == {
            "good": 0,
            "okay": 0,
            "bad": 0,
        }
        with pytest.raises(SatisfactionSurveyNotFound):
            satisfaction_selectors.get_survey_by_token(rating.token)


# --- Settings --------------------------------------------------------------------------


def test_settings_page_round_trip(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    client = acme.client(acme.admin)
    page = client.get("/settings/tickets/").content.decode()
    assert 'name="satisfaction_enabled" checked' in page
    assert 'name="satisfaction_delay_hours" value="24"' in page
    with django_capture_on_commit_callbacks(execute=True):
        saved = client.post("/settings/tickets/satisfaction/", {"satisfaction_delay_hours": "2"})
    assert saved.status_code == 302
    assert saved["Location"].endswith("#satisfaction")
    with tenant_context(acme.id):
        settings = configuration.get_settings()
        assert (settings.satisfaction_enabled, settings.satisfaction_delay_hours) == (False, 2)
    page = client.get("/settings/tickets/").content.decode()
    assert 'name="satisfaction_enabled" >' in page
    assert "Saved: solved tickets get no survey." in page
    client.post(
        "/settings/tickets/satisfaction/",
        {"satisfaction_enabled": "on", "satisfaction_delay_hours": "48"},
    )
    page = client.get("/settings/tickets/").content.decode()
    assert "Saved: surveys go out 48 hours after a ticket is solved." in page
    refused = client.post(
        "/settings/tickets/satisfaction/",
        {"satisfaction_enabled": "on", "satisfaction_delay_hours": "1000"},
    )
    assert refused.status_code == 400
    assert "Hours after solving" in refused.content.decode()
    agent = make_member(acme.tenant, MembershipRole.AGENT)
    forbidden = acme.client(agent).post(
        "/settings/tickets/satisfaction/", {"satisfaction_delay_hours": "1"}
    )
    assert forbidden.status_code in {403, 404}


def test_settings_api_round_trip(
    acme: TenantSetup, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    api = acme.api_client()
    current = api.get("/api/v1/workspace-settings/").json()
    assert (current["satisfaction_enabled"], current["satisfaction_delay_hours"]) == (True, 24)
    with django_capture_on_commit_callbacks(execute=True):
        changed = api.patch(
            "/api/v1/workspace-settings/",
            {"satisfaction_enabled": False, "satisfaction_delay_hours": 0},
            content_type="application/json",
        )
    assert changed.status_code == 200
    assert (changed.json()["satisfaction_enabled"], changed.json()["satisfaction_delay_hours"]) == (
        False,
        0,
    )
    assert api.get("/api/v1/workspace-settings/").json()["satisfaction_enabled"] is False
    refused = api.patch(
        "/api/v1/workspace-settings/",
        {"satisfaction_delay_hours": -1},
        content_type="application/json",
    )
    assert refused.status_code == 400
    with tenant_context(acme.id), pytest.raises(ConfigurationInvalid, match="0 to 720 hours"):
        configuration.update_settings(satisfaction_delay_hours=721)


# --- API -------------------------------------------------------------------------------


def _rated(
    setup: TenantSetup,
    score: str,
    *,
    contact: Contact | None = None,
    subject: str = "Help",
    assignee: Membership | None = None,
) -> tuple[Ticket, SatisfactionRating]:
    ticket, rating = _sent_survey(setup, subject=subject, contact=contact, assignee=assignee)
    setup.client().post(f"/satisfaction/{rating.token}/", {"score": score, "comment": score})
    return ticket, rating


def test_api_lists_answers_newest_first_with_filters(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        carla = make_contact(email="carla@example.test")
    first, _ = _rated(acme, "good", contact=carla)
    second, _ = _rated(acme, "bad")
    third, _ = _rated(acme, "bad", contact=carla)
    _sent_survey(acme)  # unanswered: not listed
    api = acme.api_client()
    listed = api.get("/api/v1/satisfaction-ratings/").json()
    assert [r["ticket"] for r in listed["results"]] == [third.number, second.number, first.number]
    row = listed["results"][0]
    assert row["score"] == "bad"
    assert row["comment"] == "bad"
    assert row["contact"]["email"] == "carla@example.test"
    assert row["rated_at"]
    assert row["sent_at"]

    def numbers(query: str) -> list[int]:
        response = api.get(f"/api/v1/satisfaction-ratings/?{query}")
        assert response.status_code == 200, response.json()
        return [r["ticket"] for r in response.json()["results"]]

    assert numbers(f"contact={carla.id}") == [third.number, first.number]
    assert numbers("score=good") == [first.number]
    assert numbers(f"ticket={second.number}") == [second.number]
    with tenant_context(acme.id):
        SatisfactionRating.objects.filter(ticket=first).update(
            rated_at=timezone.now() - timedelta(days=10)
        )
    cutoff = (timezone.now() - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    assert numbers(f"rated_after={cutoff}") == [third.number, second.number]
    assert numbers(f"rated_before={cutoff}") == [first.number]
    paged = api.get("/api/v1/satisfaction-ratings/?page_size=2").json()
    assert len(paged["results"]) == 2
    assert [r["ticket"] for r in api.get(paged["next"]).json()["results"]] == [first.number]
    bad = api.get("/api/v1/satisfaction-ratings/?score=meh")
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid"


def test_api_list_query_count_does_not_grow_with_ratings(acme: TenantSetup) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    api = acme.api_client()
    counts = []
    for total in (1, 4):
        while len(api.get("/api/v1/satisfaction-ratings/").json()["results"]) < total:
            with tenant_context(acme.id):
                agent = make_member(acme.tenant)
            _rated(acme, "good", assignee=agent)
        with CaptureQueriesContext(connection) as captured:
            response = api.get("/api/v1/satisfaction-ratings/")
        assert len(response.json()["results"]) == total
        counts.append(len(captured.captured_queries))
    assert counts[0] == counts[1]


def test_okay_is_a_third_answer_everywhere(
    acme: TenantSetup, globex: TenantSetup, django_capture_on_commit_callbacks: Any
) -> None:
    """Okay: offered on the page (preselected from the mail's link), stored, shown to
    agents on the ticket, the contact and in notifications, and filtered in the API."""
    with tenant_context(acme.id):
        ana = make_member(acme.tenant, name="Ana Agent")
        carla = make_contact(email="carla@example.test")
    ticket, rating = _sent_survey(acme, assignee=ana, contact=carla)
    client = acme.client()
    page = client.get(f"/satisfaction/{rating.token}/?score=okay").content.decode()
    assert re.search(r'value="okay" id="score-okay" required checked', page)
    assert "Okay, it was all right" in page
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/satisfaction/{rating.token}/", {"score": "okay", "comment": "Fine"})
    again = client.get(f"/satisfaction/{rating.token}/").content.decode()
    assert "You rated our help <strong>okay</strong>" in again
    with tenant_context(acme.id):
        assert SatisfactionRating.objects.get().score == "okay"
        event = Message.objects.get(event__field="satisfaction")
        assert event.event["to"] == "okay"
        assert Notification.objects.filter(
            member=ana, kind=NotificationKind.SATISFACTION_RATED
        ).exists()
        assert satisfaction_selectors.count_rating_history(contact_id=carla.id) == {
            "good": 0,
            "okay": 1,
            "bad": 0,
        }
    agent = acme.client(acme.admin)
    sidebar = agent.get(f"/tickets/{ticket.number}/").content.decode()
    assert 'class="badge csat-okay">Okay' in sidebar
    contact_page = agent.get(f"/contacts/{carla.id}/").content.decode()
    assert "0% good" in contact_page
    assert "0 good, 1 okay, 0 bad, all time" in contact_page
    assert 'class="badge csat-okay">Okay' in contact_page
    assert ">Okay</div>" in acme.client(ana).get("/notifications/").content.decode()
    api = acme.api_client()
    listed = api.get("/api/v1/satisfaction-ratings/?score=okay").json()["results"]
    assert [(row["ticket"], row["score"]) for row in listed] == [(ticket.number, "okay")]
    assert api.get("/api/v1/satisfaction-ratings/?score=good").json()["results"] == []
    detail = api.get(f"/api/v1/tickets/{ticket.number}/").json()
    assert detail["satisfaction"]["score"] == "okay"
    assert (
        globex.api_client().get("/api/v1/satisfaction-ratings/?score=okay").json()["results"] == []
    )
    from tickets.mail_out import tracking

    link = f"/track/{tracking.tracking_token(ticket.id)}/"
    assert "You rated our help okay." in client.get(link).content.decode()
    Tenant.objects.filter(id=acme.id).update(language="de")
    assert "Sie haben unsere Hilfe als okay bewertet." in client.get(link).content.decode()
    survey_de = client.get(f"/satisfaction/{rating.token}/").content.decode()
    assert "Wie zufrieden sind Sie mit unserer Hilfe?" in survey_de
    assert "Okay, es war in Ordnung" in survey_de
    assert "als <strong>okay</strong> bewertet" in survey_de
    thanked_de = client.post(f"/satisfaction/{rating.token}/", {"score": "bad"}).content.decode()
    assert "Vielen Dank! Wir haben Ihre Bewertung erhalten." in thanked_de


def test_api_shows_nothing_of_another_tenant(acme: TenantSetup, globex: TenantSetup) -> None:
    with tenant_context(acme.id):
        carla = make_contact(email="carla@example.test")
    ticket, _ = _rated(acme, "bad", contact=carla)
    api = globex.api_client()
    assert api.get("/api/v1/satisfaction-ratings/").json()["results"] == []
    assert api.get(f"/api/v1/satisfaction-ratings/?contact={carla.id}").json()["results"] == []
    assert api.get(f"/api/v1/tickets/{ticket.number}/").status_code == 404


def test_ticket_detail_carries_its_survey(acme: TenantSetup) -> None:
    ticket, rating = _sent_survey(acme)
    with tenant_context(acme.id):
        plain = make_ticket()
    api = acme.api_client()
    assert api.get(f"/api/v1/tickets/{plain.number}/").json()["satisfaction"] is None
    unanswered = api.get(f"/api/v1/tickets/{ticket.number}/").json()["satisfaction"]
    assert unanswered["score"] == ""
    assert unanswered["sent_at"]
    acme.client().post(f"/satisfaction/{rating.token}/", {"score": "good", "comment": "Thanks"})
    answered = api.get(f"/api/v1/tickets/{ticket.number}/").json()["satisfaction"]
    assert (answered["score"], answered["comment"]) == ("good", "Thanks")
    assert answered["rated_at"]
    patched = api.patch(
        f"/api/v1/tickets/{ticket.number}/", {"priority": "high"}, content_type="application/json"
    )
    assert patched.json()["satisfaction"]["score"] == "good"
    listed = api.get("/api/v1/tickets/").json()["results"]
    assert all("satisfaction" not in row for row in listed)  # lists do not load surveys


def test_notification_setting_for_ratings(acme: TenantSetup) -> None:
    api = acme.api_client()
    patched = api.patch(
        "/api/v1/notification-settings/",
        {"satisfaction_rated": False},
        content_type="application/json",
    )
    assert patched.json()["satisfaction_rated"] is False


def test_email_template_editor_offers_the_links_in_the_survey_only(acme: TenantSetup) -> None:
    client = acme.client(acme.admin)
    survey = client.get("/settings/email-templates/satisfaction_request/").content.decode()
    solved = client.get("/settings/email-templates/status_solved/").content.decode()
    assert "satisfaction.good_link" in survey
    assert "satisfaction.good_link" not in solved


# --- The beat task ---------------------------------------------------------------------


@pytest.mark.django_db(transaction=True, databases=["default", "ops"])
def test_beat_task_sends_for_each_tenant_with_due_surveys() -> None:
    acme, globex, initech = (
        make_tenant("acme", "Acme"),
        make_tenant("globex", "Globex"),
        make_tenant("initech", "Initech"),
    )
    for setup in (acme, globex, initech):
        with tenant_context(setup.id):
            configuration.update_settings(satisfaction_delay_hours=0)
    with tenant_context(acme.id):
        _solve(make_ticket(subject="Acme solved"))
    with tenant_context(globex.id):  # reopened before the survey went out: not woken
        reopened = make_ticket(subject="Globex reopened")
        _solve(reopened)
        services.change_status(ticket=reopened, status="open", actor=None)
    # initech: nothing solved
    mail.outbox.clear()
    assert satisfaction_tasks.send_satisfaction_surveys.apply().get() == 1
    assert [m.subject for m in mail.outbox] == ["How did we do? [#1]"]
    assert (
        satisfaction_tasks.send_satisfaction_surveys.apply().get() == 0
    )  # sent: nothing due any more
    assert len(mail.outbox) == 1
    with tenant_context(acme.id):
        assert SatisfactionRating.objects.get().sent_at is not None
    with tenant_context(globex.id):
        assert SatisfactionRating.objects.get().sent_at is None
