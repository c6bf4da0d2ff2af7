"""From a ticket to the knowledge base: a draft from a solved ticket (page and API), the
reply editor's article search, and the articles a reply sent (recorded on the ticket,
counted on the article)."""

from __future__ import annotations

import json

from django.test import Client

from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import MembershipRole
from knowledge_base import services as kb_services
from knowledge_base.models import Article
from tests.conftest import TenantSetup
from tests.factories.accounts import make_member
from tests.factories.tickets import make_ticket
from tests.pages import sidebar_panel
from tickets.models import Ticket, TicketArticle
from tickets.ticket import services as ticket_services


def _solved_ticket(acme: TenantSetup, *, note: bool = True) -> Ticket:
    with tenant_context(acme.id):
        ticket = make_ticket(subject="Printer prints blank pages", body="Help!")
        ticket_services.add_message(
            ticket=ticket, kind="reply", body="Try turning it off.", actor=acme.admin
        )
        if note:
            ticket_services.add_message(
                ticket=ticket,
                kind="note",
                body="Root cause: empty toner, swapped it.",
                actor=acme.admin,
            )
        ticket_services.add_message(
            ticket=ticket,
            kind="reply",
            body="Replace the toner cartridge, then print a test page.",
            actor=acme.admin,
            status="solved",
        )
        ticket.refresh_from_db()
    return ticket


def _panel(client: Client, number: int) -> str:
    """The knowledge-base panel as the ticket page and its sidebar refresh draw it."""
    return sidebar_panel(client, number, "kb-panel")


def _draft(client: Client, number: int, **data: str) -> object:
    return client.post(
        f"/api/v1/tickets/{number}/article-draft/",
        data=json.dumps(data),
        content_type="application/json",
    )


def test_a_solved_ticket_becomes_a_draft_article_through_the_api(acme: TenantSetup) -> None:
    ticket = _solved_ticket(acme)
    response = _draft(acme.api_client(), ticket.number)
    assert response.status_code == 201, response.content  # type: ignore[attr-defined]
    article = response.json()  # type: ignore[attr-defined]
    assert article["title"] == "Printer prints blank pages"
    assert article["status"] == "draft"
    assert article["slug"] == "printer-prints-blank-pages"
    assert article["body"].startswith("Replace the toner cartridge, then print a test page.")
    assert "Try turning it off" not in article["body"]  # the final reply only
    assert "Root cause: empty toner" in article["body"]
    # It carries the internal note: published unedited, it would stay with agents.
    assert article["visibility"] == "internal"
    assert article["source_ticket_number"] == ticket.number
    links = acme.api_client().get(f"/api/v1/tickets/{ticket.number}/articles/").json()
    assert [(link["kind"], link["article"]) for link in links] == [("source", article["id"])]
    # The article page links back to the ticket.
    page = acme.client(acme.admin).get(f"/kb/{article['slug']}/").content.decode()
    assert f'href="/tickets/{ticket.number}/"' in page


def test_a_draft_without_an_internal_note_starts_public(acme: TenantSetup) -> None:
    ticket = _solved_ticket(acme, note=False)
    article = _draft(acme.api_client(), ticket.number).json()  # type: ignore[attr-defined]
    assert article["visibility"] == "public"


def test_only_a_solved_ticket_makes_a_draft_and_bad_input_is_refused(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    with tenant_context(acme.id):
        open_ticket = make_ticket()
    api = acme.api_client()
    refused = _draft(api, open_ticket.number)
    assert refused.status_code == 409  # type: ignore[attr-defined]
    assert refused.json()["error"]["code"] == "ticket_not_solved"  # type: ignore[attr-defined]
    ticket = _solved_ticket(acme, note=False)
    bad = _draft(api, ticket.number, category="no-such-category")
    assert bad.status_code == 400  # type: ignore[attr-defined]
    assert bad.json()["error"]["message"]  # type: ignore[attr-defined]
    unknown = _draft(api, ticket.number, colour="red")
    assert unknown.status_code == 400  # type: ignore[attr-defined]
    assert _draft(api, 99999).status_code == 404  # type: ignore[attr-defined]
    # Another tenant cannot draft from (or even see) the ticket.
    assert _draft(globex.api_client(), ticket.number).status_code == 404  # type: ignore[attr-defined]
    assert globex.api_client().get(f"/api/v1/tickets/{ticket.number}/articles/").status_code == 404
    other_page = globex.client(globex.admin).post(f"/tickets/{ticket.number}/create-article/")
    assert other_page.status_code == 404
    with tenant_context(acme.id):
        light = make_member(acme.tenant, MembershipRole.LIGHT_AGENT)
    assert _draft(acme.api_client(light), ticket.number).status_code == 403  # type: ignore[attr-defined]
    with tenant_context(acme.id):
        assert not Article.objects.exists()


def test_create_article_on_the_ticket_page_opens_the_draft_in_the_editor(
    acme: TenantSetup,
) -> None:
    ticket = _solved_ticket(acme)
    agent = acme.client(acme.admin)
    panel = _panel(agent, ticket.number)
    assert "Create article" in panel
    response = agent.post(f"/tickets/{ticket.number}/create-article/")
    assert response.status_code == 302
    assert response["Location"] == "/kb/printer-prints-blank-pages/edit/"
    editor = agent.get(response["Location"]).content.decode()
    assert "Replace the toner cartridge" in editor
    assert f"ticket #{ticket.number}" in editor
    panel = _panel(agent, ticket.number)
    assert "Article written from this ticket" in panel
    with tenant_context(acme.id):
        open_ticket = make_ticket()
    assert "Create article" not in _panel(agent, open_ticket.number)


def test_articles_inserted_in_a_reply_are_recorded_and_counted(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    with tenant_context(acme.id):
        category = kb_services.create_category(name="Basics")
        public = kb_services.create_article(
            category=category, title="Reset a password", body="Use the **link**.", publish=True
        )
        internal = kb_services.create_article(
            category=category,
            title="Password escalation",
            body="Call the on-call admin.",
            status="published",
            visibility="internal",
        )
        dropped = kb_services.create_article(
            category=category, title="Password rules", body="Twelve letters.", publish=True
        )
        ticket = make_ticket()
    agent = acme.client(acme.admin)
    picker = agent.get(f"/tickets/{ticket.number}/articles/?q=password").content.decode()
    assert "Reset a password: http://acme.localhost" in picker  # the link, for public ones
    assert "Password escalation" in picker  # internal ones as text only
    assert "Use the link." in picker  # the text, without Markdown
    assert (
        globex.client(globex.admin)
        .get(f"/tickets/{ticket.number}/articles/?q=password")
        .status_code
        == 404
    )
    body = f"Hello,\n\nReset a password: http://acme.localhost/help/{public.slug}/\n\nBye"
    sent = agent.post(
        f"/tickets/{ticket.number}/messages/",
        {
            "kind": "reply",
            "body": body,
            # The editor inserted three; the agent removed one before sending; one is junk.
            "articles": [str(public.id), str(dropped.id), "junk"],
        },
    )
    assert sent.status_code == 302
    note = agent.post(
        f"/tickets/{ticket.number}/messages/",
        {"kind": "note", "body": "Password escalation", "articles": [str(internal.id)]},
    )
    assert note.status_code == 302
    with tenant_context(acme.id):
        links = list(TicketArticle.objects.filter(ticket=ticket))
        assert [(link.article_id, link.kind) for link in links] == [(public.id, "sent")]
        assert links[0].message_id is not None
        public.refresh_from_db()
        dropped.refresh_from_db()
        assert (public.times_sent, dropped.times_sent) == (1, 0)
    kb_page = agent.get("/kb/").content.decode()
    most_sent = kb_page[kb_page.index("Sent most") :]
    assert "Reset a password" in most_sent
    assert "1\N{MULTIPLICATION SIGN}" in most_sent
    assert "Password rules" not in most_sent
    panel = _panel(agent, ticket.number)
    assert "Sent: " in panel
    assert "Reset a password" in panel


def test_the_reply_api_records_the_articles_a_reply_carries(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    with tenant_context(acme.id):
        category = kb_services.create_category(name="Basics")
        article = kb_services.create_article(
            category=category, title="Reset a password", body="Use the link.", publish=True
        )
        ticket = make_ticket()
    with tenant_context(globex.id):
        foreign = kb_services.create_article(
            category=kb_services.create_category(name="Theirs"),
            title="Reset a password",
            body="Theirs.",
            publish=True,
        )
    api = acme.api_client()
    url = f"/api/v1/tickets/{ticket.number}/messages/"
    bad = api.post(
        url,
        data=json.dumps({"kind": "reply", "body": "x", "articles": ["nope"]}),
        content_type="application/json",
    )
    assert bad.status_code == 400
    assert "articles" in bad.content.decode()
    sent = api.post(
        url,
        data=json.dumps(
            {
                "kind": "reply",
                "body": "See Reset a password: http://acme.localhost/help/reset-a-password/",
                "articles": [str(article.id), str(foreign.id)],
            }
        ),
        content_type="application/json",
    )
    assert sent.status_code == 201, sent.content
    links = api.get(f"/api/v1/tickets/{ticket.number}/articles/").json()
    assert [(link["article"], link["kind"]) for link in links] == [(str(article.id), "sent")]
    with tenant_context(globex.id):
        foreign.refresh_from_db()
        assert foreign.times_sent == 0  # another tenant's article is never counted
