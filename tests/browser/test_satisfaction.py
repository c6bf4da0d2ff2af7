"""In a real browser: the customer follows the survey email's "bad" link, explains why and
sends the rating; the agent sees it beside the ticket."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from django.core import mail
from playwright.sync_api import expect
from pytest_django.live_server_helper import LiveServer

from helpdesk.tenancy.context import tenant_context
from tests.browser.conftest import close_quietly, new_context, save_screenshot, sign_in, tenant_url
from tests.conftest import make_tenant
from tests.factories.accounts import make_member
from tests.factories.tickets import make_contact, make_ticket
from tickets.configuration import services as configuration
from tickets.models import SatisfactionRating
from tickets.satisfaction import services as satisfaction
from tickets.ticket import services

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_customer_rates_bad_with_a_comment_and_the_agent_sees_it(
    live_server: LiveServer, chromium: Browser
) -> None:
    acme = make_tenant("acme", "Acme")
    with tenant_context(acme.id):
        configuration.update_settings(satisfaction_delay_hours=0)
    with tenant_context(acme.id):
        ana = make_member(acme.tenant, name="Ana Lopez", email="ana@acme.test")
        ticket = make_ticket(
            subject="Printer on fire",
            contact=make_contact(name="Carla Diaz", email="carla@example.test"),
        )
        services.assign_ticket(ticket=ticket, assignee=ana, actor=ana)
        services.change_status(ticket=ticket, status="solved", actor=ana)
    mail.outbox.clear()
    with tenant_context(acme.id):
        assert satisfaction.send_due_surveys() == 1  # mailed when this commits
    [survey] = [m for m in mail.outbox if m.to == ["carla@example.test"]]
    path = re.search(r"http://acme\.localhost(/satisfaction/\S+/\?score=bad)", str(survey.body))
    assert path, survey.body

    customer, agent = new_context(chromium), new_context(chromium)
    try:
        page = customer.new_page()
        page.goto(tenant_url(live_server, "acme", path.group(1)))
        page.get_by_role("heading", name="How did we do?").wait_for()
        assert "Printer on fire" in page.inner_text("main")
        assert page.get_by_label("Bad, I'm unsatisfied").is_checked()  # from the link
        page.get_by_label("Comment").fill("It took three days to get an answer.")
        page.get_by_role("button", name="Send my rating").click()
        page.get_by_text("Thank you! We received your rating and your comment.").wait_for()
        assert page.get_by_label("Bad, I'm unsatisfied").is_checked()
        with tenant_context(acme.id):
            rating = SatisfactionRating.objects.get(ticket=ticket)
        assert (rating.score, rating.comment) == ("bad", "It took three days to get an answer.")

        desk = agent.new_page()
        sign_in(desk, live_server, "acme", "ana@acme.test", f"/tickets/{ticket.number}/")
        block = desk.locator("#satisfaction")
        block.get_by_text("Bad", exact=True).wait_for()
        expect(block).to_contain_text("It took three days to get an answer.", use_inner_text=True)
        history = desk.locator(".history-list").inner_text()
        assert "Carla Diaz: satisfaction rating → Bad" in history
    finally:
        close_quietly(customer)
        close_quietly(agent)


@pytest.mark.parametrize("width", [390, 1280])
def test_customer_rates_okay_from_the_mail_and_the_agent_sees_it(
    live_server: LiveServer, chromium: Browser, width: int
) -> None:
    acme = make_tenant("acme", "Acme")
    with tenant_context(acme.id):
        configuration.update_settings(satisfaction_delay_hours=0)
    with tenant_context(acme.id):
        ana = make_member(acme.tenant, name="Ana Lopez", email="ana@acme.test")
        ticket = make_ticket(
            subject="Printer on fire",
            contact=make_contact(name="Carla Diaz", email="carla@example.test"),
        )
        services.assign_ticket(ticket=ticket, assignee=ana, actor=ana)
        services.change_status(ticket=ticket, status="solved", actor=ana)
    mail.outbox.clear()
    with tenant_context(acme.id):
        assert satisfaction.send_due_surveys() == 1
    [survey] = [m for m in mail.outbox if m.to == ["carla@example.test"]]
    path = re.search(r"http://acme\.localhost(/satisfaction/\S+/\?score=okay)", str(survey.body))
    assert path, survey.body

    customer = chromium.new_context(viewport={"width": width, "height": 800})
    agent = new_context(chromium)
    try:
        page = customer.new_page()
        page.goto(tenant_url(live_server, "acme", path.group(1)))
        page.get_by_role("heading", name="How did we do?").wait_for()
        assert page.get_by_label("Okay, it was all right").is_checked()  # from the link
        save_screenshot(page, f"satisfaction-okay-{width}.png")
        page.get_by_role("button", name="Send my rating").click()
        page.get_by_text("Thank you! We received your rating.").wait_for()
        with tenant_context(acme.id):
            assert SatisfactionRating.objects.get(ticket=ticket).score == "okay"

        desk = agent.new_page()
        sign_in(desk, live_server, "acme", "ana@acme.test", f"/tickets/{ticket.number}/")
        desk.locator("#satisfaction").get_by_text("Okay", exact=True).wait_for()
        history = desk.locator(".history-list").inner_text()
        assert "Carla Diaz: satisfaction rating → Okay" in history
    finally:
        close_quietly(customer)
        close_quietly(agent)
