"""Ticket integrations against a real HTTP peer on loopback: templates filled and escaped,
tasks created in a GitHub-like and a Jira-like tool with their link kept on the ticket (and
in its history), failures with their reason (500, not JSON, too big, a redirect, a
timeout) and a retry; contact apps fetched, cached, expired, stale and not found, always
shown as text; loopback refused unless the operator allows it; admins only configure,
light agents do not create; another tenant's integrations, apps and items never reached;
bad input a 400 with a message; secrets never returned."""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
import redis
import time_machine
from django.conf import settings
from django.core.cache import cache
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from pytest_django import DjangoCaptureOnCommitCallbacks
from pytest_django import Settings as SettingsWrapper

from automation.errors import IntegrationTargetRefused, InvalidIntegration
from automation.integrations import client, contact_apps, services, templating
from automation.integrations import tasks as integration_tasks
from automation.models import ExternalTaskStatus
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import AuditEvent, MembershipRole
from tests.automation.http_peer import Peer, serve
from tests.automation.trickle_peer import trickling
from tests.conftest import TenantSetup
from tests.factories.accounts import make_member
from tests.factories.tickets import make_contact, make_ticket
from tests.pages import element, sidebar_panel
from tickets.contacts import personal_data
from tickets.models import Message, MessageKind

JSON = "application/json"
SECRET = "Bearer s3cret-token-value"
SUBJECT = 'Printer says "PC LOAD LETTER"\nand \\ stops'


@pytest.fixture
def peer() -> Iterator[Peer]:
    with serve() as running:
        yield running


@pytest.fixture
def allow_private(settings: SettingsWrapper) -> None:
    settings.HELPDESK_OUTBOUND_ALLOW_PRIVATE_HOSTS = True


@pytest.fixture
def committed(
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> Callable[[], Any]:
    @contextmanager
    def block() -> Iterator[None]:
        with django_capture_on_commit_callbacks(execute=True):
            yield

    return block


def github(peer: Peer, **overrides: Any) -> Any:
    return services.create_integration(
        actor=None,
        **{
            "name": "GitHub",
            "url_template": peer.url("/repos/acme/app/issues"),
            "headers": {"Accept": "application/vnd.github+json", "X-Ticket": "{{ticket.number}}"},
            "secret_header_name": "Authorization",
            "secret_header_value": SECRET,
            "body_template": '{"title": "#{{ticket.number}} {{ticket.subject}}",'
            ' "body": "{{latest_message}}\\n\\n{{ticket.url}} ({{contact.email}},'
            ' {{agent.name}})"}',
            "link_path": "html_url",
            "id_path": "number",
            **overrides,
        },
    )


GITHUB_ANSWER = {"number": 7, "html_url": "https://github.com/acme/app/issues/7", "title": "x"}


# --- Templates -----------------------------------------------------------------------------


def test_body_values_are_json_escaped_so_quotes_cannot_break_the_json() -> None:
    values = {**templating.TICKET_SAMPLE, "ticket.subject": SUBJECT}
    body = templating.render_json_body(
        '{"title": "{{ ticket.subject }}", "n": {{ticket.number}}}', values
    )
    assert json.loads(body) == {"title": SUBJECT, "n": 123}
    injected = {**values, "ticket.subject": '", "admin": true, "x": "'}
    assert json.loads(templating.render_json_body('{"t": "{{ticket.subject}}"}', injected)) == {
        "t": '", "admin": true, "x": "'
    }


def test_url_values_are_percent_encoded_and_headers_lose_line_breaks() -> None:
    url = templating.render_url(
        "https://crm.example.com/people/{{contact.email}}?q={{contact.name}}",
        {"contact.email": "a/b?c@example.com", "contact.name": "Ann & Bob#1"},
    )
    assert url == "https://crm.example.com/people/a%2Fb%3Fc%40example.com?q=Ann%20%26%20Bob%231"
    assert templating.render_header(
        "T {{ticket.subject}}", {"ticket.subject": "a\r\nX-Evil: 1"}
    ) == ("T a  X-Evil: 1")


def test_a_peer_trickling_its_answer_is_cut_off_at_twice_the_timeout(
    allow_private: None,
) -> None:
    """The timeout bounds each read; the erasure's second pass (contact_apps) relies on no
    fetch outliving twice the timeout in all."""
    with trickling(length=40, gap=0.25) as base:
        started = time.monotonic()
        answer = client.call("GET", f"{base}/crm", headers={}, body=None, timeout=0.5)
        took = time.monotonic() - started
    assert took < 3
    assert not answer.succeeded
    assert answer.error == "no complete answer within 1 seconds"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("html_url", "https://github.com/acme/app/issues/7"),
        ("data.items.0.key", "PROJ-1"),
        ("/data/items/0/key", "PROJ-1"),
        ("/a~1b", "slash"),
        ("data.missing", None),
        ("data.items.\u00b2.key", None),  # a digit, but not a number
    ],
)
def test_paths_find_values_in_the_answer(path: str, expected: Any) -> None:
    document = {
        "html_url": "https://github.com/acme/app/issues/7",
        "data": {"items": [{"key": "PROJ-1"}]},
        "a/b": "slash",
    }
    assert templating.find(document, path) == expected


# --- Creating tasks ------------------------------------------------------------------------


def test_a_github_like_issue_is_created_and_linked_on_the_ticket(
    tenant: TenantSetup, peer: Peer, allow_private: None, committed: Callable[[], Any]
) -> None:
    peer.answer("/repos/acme/app/issues", 201, GITHUB_ANSWER)
    integration = github(peer)
    agent = make_member(tenant.tenant, MembershipRole.AGENT, name="Grace Hopper")
    ticket = make_ticket(subject=SUBJECT, body="The printer jams.")
    with committed():
        item = services.create_external_task(ticket=ticket, integration=integration, actor=agent)
        assert item.status == ExternalTaskStatus.PENDING
    item.refresh_from_db()
    assert (item.status, item.external_id, item.url) == (
        ExternalTaskStatus.CREATED,
        "7",
        "https://github.com/acme/app/issues/7",
    )
    [request] = peer.seen("/repos/acme/app/issues")
    assert request.method == "POST"
    assert request.headers["Authorization"] == SECRET
    assert request.headers["X-Ticket"] == str(ticket.number)
    sent = request.json
    assert sent["title"] == f"#{ticket.number} {SUBJECT}"
    assert sent["body"].startswith("The printer jams.")
    assert f"/tickets/{ticket.number}/" in sent["body"]
    assert "Grace Hopper" in sent["body"]
    event = Message.objects.get(ticket=ticket, kind=MessageKind.EVENT, event__field="external_task")
    assert event.event["to"]["url"] == "https://github.com/acme/app/issues/7"
    assert event.author_member_id == agent.id
    # Run twice (a redelivered task): claimed already, nothing sent again.
    assert services.run_external_task(tenant_id=str(tenant.id), item_id=str(item.id)) is None
    assert len(peer.requests) == 1


def test_a_jira_like_key_makes_the_link_through_the_link_template(
    tenant: TenantSetup, peer: Peer, allow_private: None, committed: Callable[[], Any]
) -> None:
    peer.answer(
        "/rest/api/2/issue",
        201,
        {"id": "10001", "key": "PROJ-12", "self": "https://jira.example/rest/api/2/issue/10001"},
    )
    integration = services.create_integration(
        actor=None,
        name="Jira",
        url_template=peer.url("/rest/api/2/issue"),
        body_template='{"fields": {"project": {"key": "PROJ"}, "summary": "{{ticket.subject}}",'
        ' "issuetype": {"name": "Task"}}}',
        id_path="key",
        link_template="https://acme.atlassian.net/browse/{{id}}",
    )
    ticket = make_ticket(subject="Jira me")
    with committed():
        item = services.create_external_task(ticket=ticket, integration=integration, actor=None)
    item.refresh_from_db()
    assert item.url == "https://acme.atlassian.net/browse/PROJ-12"
    assert item.external_id == "PROJ-12"
    assert peer.requests[0].json["fields"]["summary"] == "Jira me"


@pytest.mark.parametrize(
    ("status", "body", "headers", "reason"),
    [
        (500, b'{"message": "boom"}', {}, "the server answered 500"),
        (201, b"<html>created</html>", {}, "is not JSON"),
        (201, b'{"html_url": "' + b"x" * (300 * 1024) + b'"}', {}, "larger than 256 KB"),
        (302, b"", {"Location": "http://169.254.169.254/"}, "redirects are not followed"),
        (201, b'{"number": 1, "html_url": "javascript:alert(1)"}', {}, "not an http(s) URL"),
        (201, b'{"number": 1}', {}, "no link at html_url"),
    ],
)
def test_a_failed_creation_keeps_the_reason_and_can_be_retried(
    tenant: TenantSetup,
    peer: Peer,
    allow_private: None,
    committed: Callable[[], Any],
    status: int,
    body: bytes,
    headers: dict[str, str],
    reason: str,
) -> None:
    peer.answer("/repos/acme/app/issues", status, body, headers=headers)
    integration = github(peer)
    ticket = make_ticket()
    with committed():
        item = services.create_external_task(ticket=ticket, integration=integration, actor=None)
    item.refresh_from_db()
    assert item.status == ExternalTaskStatus.FAILED
    assert reason in item.error
    assert not Message.objects.filter(ticket=ticket, event__field="external_task").exists()
    peer.answer("/repos/acme/app/issues", 201, GITHUB_ANSWER)
    with committed():
        services.retry_external_task(item=item, actor=None)
    item.refresh_from_db()
    assert item.status == ExternalTaskStatus.CREATED
    assert item.attempts == 2


def test_loopback_is_refused_unless_the_operator_allows_it(
    tenant: TenantSetup, peer: Peer, settings: SettingsWrapper
) -> None:
    settings.HELPDESK_OUTBOUND_ALLOW_PRIVATE_HOSTS = False
    settings.HELPDESK_WEBHOOK_ALLOW_PRIVATE_HOSTS = False
    with pytest.raises(IntegrationTargetRefused, match="loopback or private"):
        github(peer)
    with pytest.raises(IntegrationTargetRefused):
        contact_apps.create_contact_app(
            actor=None, name="CRM", url_template="http://10.0.0.5/people?email={{contact.email}}"
        )
    assert peer.requests == []


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"url_template": "ftp://example.com/x"}, "must start with https://"),
        ({"url_template": "https://{{contact.email}}.example.com/"}, "host may not hold"),
        ({"body_template": '{"title": "{{ticket.secret}}"}'}, "not a placeholder"),
        ({"body_template": '{"title": {{ticket.subject}}}'}, "not valid JSON"),
        ({"body_template": '{"title": "x",}'}, "not valid JSON"),
        ({"link_path": "", "link_template": ""}, "Say where the created item's link is"),
        ({"link_path": "a..b"}, "dotted path"),
        ({"headers": {"Host": "evil"}}, "set by the help desk"),
        ({"headers": {"Bad Name": "x"}}, "not a header name"),
        ({"link_path": "", "link_template": "javascript:{{id}}"}, "must start with https://"),
        ({"name": "a\x00b"}, "cannot be stored"),
        ({"body_template": '{"t": "\ud800"}'}, "cannot be stored"),
        ({"headers": {"X-A": "a\x00"}}, "cannot be stored"),
    ],
)
def test_bad_integration_settings_are_refused_with_the_reason(
    tenant: TenantSetup, peer: Peer, allow_private: None, overrides: dict[str, Any], words: str
) -> None:
    with pytest.raises(InvalidIntegration, match=words.replace("(", r"\(")):
        github(peer, **overrides)


# --- Contact apps --------------------------------------------------------------------------


def crm(peer: Peer, **overrides: Any) -> Any:
    return contact_apps.create_contact_app(
        actor=None,
        **{
            "name": "CRM",
            "url_template": peer.url("/people") + "?email={{contact.email}}",
            "secret_header_name": "X-Api-Key",
            "secret_header_value": "crm-key",
            "cache_seconds": 60,
            "timeout_seconds": 1,
            **overrides,
        },
    )


def test_a_contact_app_shows_the_record_and_caches_it_until_it_expires(
    tenant: TenantSetup, peer: Peer, allow_private: None
) -> None:
    peer.answer("/people", 200, {"plan": "Pro", "owner": {"name": "Lin"}, "seats": 12})
    app = crm(peer, fields=[["plan", "Plan"], ["owner.name", "Account owner"], ["nope", "Nope"]])
    contact = make_contact(email="ada+vip@example.com")
    view = contact_apps.fetch_contact_app(app=app, contact=contact)
    assert (view.state, view.cached, view.stale) == ("ok", False, False)
    assert view.rows == [("Plan", "Pro"), ("Account owner", "Lin"), ("Nope", "")]
    [request] = peer.requests
    assert request.path == "/people?email=ada%2Bvip%40example.com"
    assert request.headers["X-Api-Key"] == "crm-key"
    assert contact_apps.fetch_contact_app(app=app, contact=contact).cached is True
    assert len(peer.requests) == 1
    # Expired: asked again; the CRM failing now leaves the old answer shown, marked stale.
    peer.answer("/people", 503, {"error": "down"})
    with time_machine.travel(timezone.now() + datetime.timedelta(seconds=61), tick=False):
        stale = contact_apps.fetch_contact_app(app=app, contact=contact)
        assert (stale.state, stale.stale, stale.rows[0]) == ("ok", True, ("Plan", "Pro"))
        assert "503" in stale.error
        assert len(peer.requests) == 2
        # Not asked again at once (a CRM that is down is not called on every view).
        contact_apps.fetch_contact_app(app=app, contact=contact)
        assert len(peer.requests) == 2
    peer.answer("/people", 200, {"plan": "Enterprise"})
    with time_machine.travel(timezone.now() + datetime.timedelta(seconds=200), tick=False):
        fresh = contact_apps.fetch_contact_app(app=app, contact=contact)
    assert (fresh.stale, fresh.rows[0]) == (False, ("Plan", "Enterprise"))


@pytest.mark.parametrize(
    ("route", "state", "words"),
    [
        ({"status": 404, "body": {"error": "no such person"}}, "not_found", ""),
        ({"status": 200, "body": []}, "not_found", ""),
        ({"status": 500, "body": {}}, "error", "answered 500"),
        ({"status": 200, "body": b"<h1>not json</h1>"}, "error", "not JSON"),
        ({"status": 200, "body": {"a": 1}, "delay": 2.5}, "error", "no answer within 1 seconds"),
        ({"status": 200, "body": b'"x' + b"y" * (257 * 1024) + b'"'}, "error", "larger than"),
    ],
)
def test_a_contact_app_says_what_went_wrong_never_raising(
    tenant: TenantSetup,
    peer: Peer,
    allow_private: None,
    route: dict[str, Any],
    state: str,
    words: str,
) -> None:
    peer.answer("/people", **route)
    view = contact_apps.fetch_contact_app(app=crm(peer), contact=make_contact())
    assert view.state == state
    assert words in view.error


def test_without_fields_every_top_level_key_is_shown(
    tenant: TenantSetup, peer: Peer, allow_private: None
) -> None:
    peer.answer("/people", 200, [{"name": "Ada", "tags": ["a", "b"], "vip": True}])
    view = contact_apps.fetch_contact_app(app=crm(peer), contact=make_contact())
    assert view.rows == [("name", "Ada"), ("tags", '["a", "b"]'), ("vip", "true")]


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"cache_seconds": 10}, "between 60 and 86400"),
        ({"timeout_seconds": 9}, "between 1 and 5"),
        ({"url_template": "https://crm.example.com/{{ticket.subject}}"}, "not a placeholder"),
        ({"fields": [["", "Empty"]]}, "needs its path"),
    ],
)
def test_bad_contact_app_settings_are_refused(
    tenant: TenantSetup, peer: Peer, allow_private: None, overrides: dict[str, Any], words: str
) -> None:
    with pytest.raises(InvalidIntegration, match=words):
        crm(peer, **overrides)


# --- API -----------------------------------------------------------------------------------


def integration_body(peer: Peer, **overrides: Any) -> dict[str, Any]:
    return {
        "name": "GitHub",
        "url_template": peer.url("/repos/acme/app/issues"),
        "secret_header_name": "Authorization",
        "secret_header_value": SECRET,
        "body_template": '{"title": "{{ticket.subject}}"}',
        "link_path": "html_url",
        "id_path": "number",
        **overrides,
    }


def test_admins_manage_integrations_by_api_and_the_secret_never_comes_back(
    acme: TenantSetup, peer: Peer, allow_private: None
) -> None:
    api = acme.api_client()
    created = api.post(
        "/api/v1/external-task-integrations/", integration_body(peer), content_type=JSON
    )
    assert created.status_code == 201, created.content
    data = created.json()
    assert (data["has_secret"], data["secret_header_name"]) == (True, "Authorization")
    assert "secret_header_value" not in data
    base = f"/api/v1/external-task-integrations/{data['id']}/"
    listed = api.get("/api/v1/external-task-integrations/")
    changed = api.patch(base, {"name": "GitHub issues"}, content_type=JSON)
    assert changed.status_code == 200
    assert changed.json()["has_secret"] is True  # kept when left out
    for response in (created, listed, changed, api.get(base)):
        assert "s3cret" not in response.content.decode()
    peer.answer("/repos/acme/app/issues", 201, GITHUB_ANSWER)
    tested = api.post(f"{base}test/")
    assert tested.status_code == 200
    assert tested.json()["url"] == "https://github.com/acme/app/issues/7"
    assert peer.requests[0].headers["Authorization"] == SECRET
    removed = api.patch(base, {"secret_header_value": ""}, content_type=JSON)
    assert removed.json()["has_secret"] is False
    assert api.delete(base).status_code == 204
    assert api.get(base).status_code == 404
    with tenant_context(acme.id):
        actions = list(
            AuditEvent.objects.filter(target_id=data["id"]).values_list("action", flat=True)
        )
    assert sorted(actions) == sorted(
        [
            "integration.created",
            "integration.updated",
            "integration.tested",
            "integration.updated",
            "integration.deleted",
        ]
    )


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"url_template": "not a url"}, None, "must start with https://"),
        ({"body_template": '{"t": "{{ticket.nope}}"}'}, None, "not a placeholder"),
        ({"body_template": '{"t": '}, None, "not valid JSON"),
        ({"method": "delete"}, "method", ""),
        ({"headers": ["x"]}, "headers", ""),
        ({"name": ""}, "name", ""),
        ({"unknown": 1}, "unknown", "Not a field"),
        ({"name": "a\x00b"}, "name", "not allowed"),
        ({"body_template": '{"t": "\ud800"}'}, None, "surrogate"),  # refused with the JSON
        ({"headers": {"X-A": "a\x00"}}, "headers", "not allowed"),
    ],
)
def test_bad_integration_input_is_a_400_with_a_message(
    acme: TenantSetup,
    peer: Peer,
    allow_private: None,
    body: dict[str, Any],
    field: str | None,
    words: str,
) -> None:
    response = acme.api_client().post(
        "/api/v1/external-task-integrations/", integration_body(peer, **body), content_type=JSON
    )
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["message"]
    if field:
        assert field in error["fields"]
    if words:
        assert words in json.dumps(error)


def test_contact_apps_by_api_and_the_data_for_a_ticket(
    acme: TenantSetup, peer: Peer, allow_private: None
) -> None:
    api = acme.api_client()
    created = api.post(
        "/api/v1/contact-apps/",
        {
            "name": "CRM",
            "url_template": peer.url("/people") + "?email={{contact.email}}",
            "secret_header_name": "X-Api-Key",
            "secret_header_value": "crm-key-value",
            "cache_seconds": 120,
            "timeout_seconds": 2,
            "show_fields": [{"path": "plan", "name": "Plan"}],
        },
        content_type=JSON,
    )
    assert created.status_code == 201, created.content
    app = created.json()
    assert app["show_fields"] == [{"path": "plan", "name": "Plan"}]
    assert "crm-key-value" not in created.content.decode()
    bad = api.patch(f"/api/v1/contact-apps/{app['id']}/", {"cache_seconds": 5}, content_type=JSON)
    assert bad.status_code == 400
    assert "between 60 and 86400" in bad.json()["error"]["message"]
    peer.answer("/people", 200, {"plan": "<b>Pro</b>"})
    with tenant_context(acme.id):
        ticket = make_ticket()
    data = api.get(f"/api/v1/tickets/{ticket.number}/apps/{app['id']}/").json()
    assert (data["state"], data["values"]) == ("ok", [{"name": "Plan", "value": "<b>Pro</b>"}])
    tested = api.post(
        f"/api/v1/contact-apps/{app['id']}/test/", {"contact_email": "x@y.z"}, content_type=JSON
    )
    assert tested.json()["values"] == [["Plan", "<b>Pro</b>"]]
    assert peer.requests[-1].path == "/people?email=x%40y.z"
    turned_off = api.patch(
        f"/api/v1/contact-apps/{app['id']}/", {"is_active": False}, content_type=JSON
    )
    assert turned_off.json()["is_active"] is False
    off = api.get(f"/api/v1/tickets/{ticket.number}/apps/{app['id']}/")
    assert (off.status_code, off.json()["error"]["code"]) == (409, "integration_inactive")


def test_agents_create_tasks_by_api_and_light_agents_may_not(
    acme: TenantSetup, peer: Peer, allow_private: None, committed: Callable[[], Any]
) -> None:
    peer.answer("/repos/acme/app/issues", 201, GITHUB_ANSWER)
    with tenant_context(acme.id):
        integration = github(peer)
        ticket = make_ticket()
        agent = make_member(acme.tenant, MembershipRole.AGENT)
        light = make_member(acme.tenant, MembershipRole.LIGHT_AGENT)
    url = f"/api/v1/tickets/{ticket.number}/external-tasks/"
    with committed():
        response = acme.api_client(agent).post(
            url, {"integration": str(integration.id)}, content_type=JSON
        )
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "pending"
    item = acme.api_client(light).get(f"{url}{response.json()['id']}/").json()
    assert (item["status"], item["url"]) == ("created", "https://github.com/acme/app/issues/7")
    refused = acme.api_client(light).post(
        url, {"integration": str(integration.id)}, content_type=JSON
    )
    assert refused.status_code == 403
    assert acme.api_client(light).get(url).json()["results"][0]["id"] == item["id"]
    not_failed = acme.api_client(agent).post(f"{url}{item['id']}/retry/")
    assert not_failed.status_code == 409
    for path in ("/api/v1/external-task-integrations/", "/api/v1/contact-apps/"):
        assert acme.api_client(agent).get(path).status_code == 403
        assert acme.api_client(agent).post(path, {}, content_type=JSON).status_code == 403
    bad = acme.api_client(agent).post(url, {"integration": "nope"}, content_type=JSON)
    assert bad.status_code == 400


def test_another_tenants_integrations_apps_and_items_are_never_reached(
    acme: TenantSetup,
    globex: TenantSetup,
    peer: Peer,
    allow_private: None,
    committed: Callable[[], Any],
) -> None:
    peer.answer("/repos/acme/app/issues", 201, GITHUB_ANSWER)
    peer.answer("/people", 200, {"plan": "Pro"})
    with tenant_context(acme.id):
        integration = github(peer)
        app = crm(peer)
        ticket = make_ticket()
        with committed():
            item = services.create_external_task(ticket=ticket, integration=integration, actor=None)
    with tenant_context(globex.id):
        theirs = make_ticket()
    assert theirs.number == ticket.number  # the same number, another tenant's ticket
    api = globex.api_client()
    for path in (
        f"/api/v1/external-task-integrations/{integration.id}/",
        f"/api/v1/contact-apps/{app.id}/",
        f"/api/v1/tickets/{theirs.number}/apps/{app.id}/",
        f"/api/v1/tickets/{theirs.number}/external-tasks/{item.id}/",
    ):
        assert api.get(path).status_code == 404, path
    assert api.post(f"/api/v1/external-task-integrations/{integration.id}/test/").status_code == 404
    created = api.post(
        f"/api/v1/tickets/{theirs.number}/external-tasks/",
        {"integration": str(integration.id)},
        content_type=JSON,
    )
    assert created.status_code == 404
    assert api.get(f"/api/v1/tickets/{theirs.number}/external-tasks/").json()["results"] == []
    assert api.get("/api/v1/external-task-integrations/").json()["results"] == []
    assert api.get("/api/v1/contact-apps/").json()["results"] == []
    pages = globex.client(globex.admin)
    assert pages.get(f"/settings/integrations/tasks/{integration.id}/").status_code == 404
    assert pages.get(f"/settings/integrations/apps/{app.id}/").status_code == 404
    assert pages.get(f"/tickets/{theirs.number}/apps/{app.id}/").status_code == 404
    panel = pages.get(f"/tickets/{theirs.number}/integrations/")
    assert "GitHub" not in panel.content.decode()
    posted = pages.post(f"/tickets/{theirs.number}/integrations/{integration.id}/create/")
    assert posted.status_code == 404
    in_panel = pages.post(
        f"/tickets/{theirs.number}/integrations/{integration.id}/create/", HTTP_HX_REQUEST="true"
    )
    assert in_panel.status_code == 409
    assert "That integration no longer exists." in in_panel.content.decode()
    assert len(peer.seen("/repos/acme/app/issues")) == 1


# --- Pages ---------------------------------------------------------------------------------


def test_settings_pages_are_for_admins_and_show_bad_input(
    acme: TenantSetup, peer: Peer, allow_private: None
) -> None:
    admin = acme.client(acme.admin)
    assert admin.get("/settings/integrations/").status_code == 200
    bad = admin.post(
        "/settings/integrations/tasks/new/",
        {
            "name": "GitHub",
            "method": "post",
            "url_template": peer.url("/issues"),
            "body_template": '{"title": "{{ticket.subject}}"',
            "link_path": "html_url",
            "is_active": "on",
        },
    )
    assert bad.status_code == 400
    assert "not valid JSON" in bad.content.decode()
    good = admin.post(
        "/settings/integrations/tasks/new/",
        {
            "name": "GitHub",
            "method": "post",
            "url_template": peer.url("/issues"),
            "headers": "Accept: application/json",
            "secret_header_name": "Authorization",
            "secret_header_value": SECRET,
            "body_template": '{"title": "{{ticket.subject}}"}',
            "link_path": "html_url",
            "is_active": "on",
        },
    )
    assert good.status_code == 302
    page = admin.get(good["Location"]).content.decode()
    assert "s3cret" not in page
    assert "stored" in page
    with tenant_context(acme.id):
        agent = make_member(acme.tenant, MembershipRole.AGENT)
    assert acme.client(agent).get("/settings/integrations/").status_code == 403
    assert acme.client(agent).post("/settings/integrations/apps/new/", {}).status_code == 403


def test_the_ticket_panel_offers_creation_to_agents_and_shows_apps_as_text(
    acme: TenantSetup, peer: Peer, allow_private: None
) -> None:
    peer.answer("/people", 200, {"note": "<script>alert(1)</script>"})
    with tenant_context(acme.id):
        integration = github(peer)
        app = crm(peer)
        ticket = make_ticket()
        light = make_member(acme.tenant, MembershipRole.LIGHT_AGENT)
    panel = acme.client(acme.admin).get(f"/tickets/{ticket.number}/integrations/").content.decode()
    assert "Create task in GitHub" in panel
    assert f"/tickets/{ticket.number}/apps/{app.id}/" in panel
    light_panel = acme.client(light).get(f"/tickets/{ticket.number}/integrations/").content.decode()
    assert "Create task in GitHub" not in light_panel
    box = acme.client(light).get(f"/tickets/{ticket.number}/apps/{app.id}/").content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in box
    assert "<script>alert" not in box
    refused = acme.client(light).post(
        f"/tickets/{ticket.number}/integrations/{integration.id}/create/", HTTP_HX_REQUEST="true"
    )
    assert refused.status_code == 403
    assert peer.seen("/repos/acme/app/issues") == []


def test_a_ticket_without_integrations_shows_no_panel(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        ticket = make_ticket()
    panel = acme.client(acme.admin).get(f"/tickets/{ticket.number}/integrations/")
    assert panel.status_code == 200
    assert "Integrations" not in panel.content.decode()


def test_the_ticket_page_draws_its_integrations_panel(
    acme: TenantSetup, peer: Peer, allow_private: None
) -> None:
    with tenant_context(acme.id):
        ticket = make_ticket()
        light = make_member(acme.tenant, MembershipRole.LIGHT_AGENT)
    admin = acme.client(acme.admin)
    nothing = sidebar_panel(admin, ticket.number, "integrations-panel")
    assert nothing == '<div id="integrations-panel" hidden></div>'
    with tenant_context(acme.id):
        github(peer)
    panel = sidebar_panel(admin, ticket.number, "integrations-panel")
    assert "Create task in GitHub" in panel
    alone = admin.get(f"/tickets/{ticket.number}/integrations/").content.decode()
    assert element(alone, "integrations-panel") == panel
    light_panel = sidebar_panel(acme.client(light), ticket.number, "integrations-panel")
    assert "Create task in GitHub" not in light_panel
    assert peer.seen("/repos/acme/app/issues") == []


def test_the_linked_items_list_and_panel_take_the_same_queries_for_more_items(
    acme: TenantSetup, peer: Peer, allow_private: None
) -> None:
    with tenant_context(acme.id):
        integration = github(peer)
        ticket = make_ticket()
        agent = make_member(acme.tenant, MembershipRole.AGENT)
    api = acme.api_client(agent)
    pages = acme.client(agent)

    def counts() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as listed:
            assert api.get(f"/api/v1/tickets/{ticket.number}/external-tasks/").status_code == 200
        with CaptureQueriesContext(connection) as panel:
            assert pages.get(f"/tickets/{ticket.number}/integrations/").status_code == 200
        return len(listed), len(panel)

    with tenant_context(acme.id):
        services.create_external_task(ticket=ticket, integration=integration, actor=agent)
    counts()  # the first requests also fill the tenant and session caches
    one = counts()
    with tenant_context(acme.id):
        for _ in range(3):
            services.create_external_task(ticket=ticket, integration=integration, actor=agent)
    assert counts() == one


def test_a_double_click_creates_one_item_and_one_issue(
    tenant: TenantSetup, peer: Peer, allow_private: None, committed: Callable[[], Any]
) -> None:
    peer.answer("/repos/acme/app/issues", 201, GITHUB_ANSWER)
    integration = github(peer)
    ticket = make_ticket()
    with committed():
        first = services.create_external_task(ticket=ticket, integration=integration, actor=None)
        second = services.create_external_task(ticket=ticket, integration=integration, actor=None)
    assert first.id == second.id
    assert len(peer.seen("/repos/acme/app/issues")) == 1
    with committed():  # once created, another press is another issue
        third = services.create_external_task(ticket=ticket, integration=integration, actor=None)
    assert third.id != first.id
    assert len(peer.seen("/repos/acme/app/issues")) == 2


def test_erasing_a_person_erases_the_subject_copied_to_linked_items(
    tenant: TenantSetup, peer: Peer, allow_private: None, committed: Callable[[], Any]
) -> None:
    peer.answer("/repos/acme/app/issues", 201, {"number": 3, "html_url": "https://gh.example/3"})
    integration = github(peer, id_path="")
    ticket = make_ticket(subject="Maria's printer", contact=make_contact(name="Maria Rossi"))
    other = make_ticket(subject="Someone else")
    with committed():
        item = services.create_external_task(ticket=ticket, integration=integration, actor=None)
        kept = services.create_external_task(ticket=other, integration=integration, actor=None)
    item.refresh_from_db()
    assert item.title == "Maria's printer"
    with committed():
        personal_data.erase_contact(contact=ticket.contact, actor=tenant.admin)
    item.refresh_from_db()
    kept.refresh_from_db()
    assert (item.title, item.url, item.external_id) == ("", "https://gh.example/3", "3")
    assert kept.title == "Someone else"


def _cached_keys(tenant_id: Any) -> list[str]:
    """The contact apps' keys of a tenant, read from Redis itself (not through the cache)."""
    client = redis.Redis.from_url(str(settings.CACHES["default"]["LOCATION"]))
    # The prefix the cache really uses: a test process's cache may have been made before
    # tests/conftest.py gave this process its own KEY_PREFIX.
    match = cache.make_key(f"integrations:app:{tenant_id}:*")
    return sorted(key.decode() for key in client.scan_iter(match=match))


def test_erasing_a_person_deletes_the_contact_apps_answers_about_them(
    tenant: TenantSetup, peer: Peer, allow_private: None, committed: Callable[[], Any]
) -> None:
    peer.answer("/people", 200, {"plan": "Pro", "owner": "Maria's manager"})
    peer.answer("/billing", 503, {})  # a failure is kept too: its reason may name the URL
    app = crm(peer)
    billing = crm(peer, name="Billing", url_template=peer.url("/billing") + "?e={{contact.email}}")
    person = make_contact(email="maria@example.com", name="Maria Rossi")
    someone = make_contact(email="sam@example.com")
    for contact in (person, someone):
        assert contact_apps.fetch_contact_app(app=app, contact=contact).state == "ok"
        assert contact_apps.fetch_contact_app(app=billing, contact=contact).state == "error"
    assert contact_apps.fetch_contact_app(app=app, contact=person).cached is True
    keys = _cached_keys(tenant.id)
    assert len([key for key in keys if str(person.id) in key]) == 2  # an answer and a failure

    with committed():
        personal_data.erase_contact(contact=person, actor=tenant.admin)
        person.refresh_from_db()
        # Unreachable at once, before the keys are deleted: the answer was for her address.
        again = contact_apps.fetch_contact_app(app=app, contact=person)
        assert again.cached is False
        assert peer.requests[-1].path == f"/people?email=erased-{person.id}%40erased.invalid"
    # After the commit nothing the apps said about her is left in Redis; others' answers stay.
    keys = _cached_keys(tenant.id)
    assert [key for key in keys if str(person.id) in key] == []
    assert len([key for key in keys if str(someone.id) in key]) == 2
    asked = len(peer.seen("/people"))
    assert contact_apps.fetch_contact_app(app=app, contact=person).cached is False
    assert len(peer.seen("/people")) == asked + 1
    assert contact_apps.fetch_contact_app(app=app, contact=someone).cached is True


def test_a_cached_answer_is_not_used_for_a_contact_whose_address_changed(
    tenant: TenantSetup, peer: Peer, allow_private: None
) -> None:
    peer.answer("/people", 200, {"plan": "Pro"})
    app = crm(peer)
    contact = make_contact(email="old@example.com")
    contact_apps.fetch_contact_app(app=app, contact=contact)
    contact.email = "new@example.com"
    contact.save(update_fields=["email"])
    assert contact_apps.fetch_contact_app(app=app, contact=contact).cached is False
    assert peer.requests[-1].path == "/people?email=new%40example.com"


def _transactions_open(database: dict[str, Any]) -> list[tuple[int, str, str]]:
    """(pid, state, query) of this test database's backends inside a transaction, seen
    from a connection of its own (the same role, so pg_stat_activity shows their state)."""
    with psycopg.connect(
        host=database["HOST"] or None,
        port=database["PORT"] or None,
        user=database["USER"],
        password=database["PASSWORD"] or None,
        dbname=database["NAME"],
        autocommit=True,
    ) as watcher:
        rows = watcher.execute(
            "SELECT pid, state, query FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND xact_start IS NOT NULL"
        ).fetchall()
    return [(int(pid), str(state), str(query)) for pid, state, query in rows]


@pytest.mark.django_db(transaction=True, databases=["default", "ops"])
def test_a_contact_app_is_asked_with_no_database_transaction_open(
    acme: TenantSetup, peer: Peer, allow_private: None
) -> None:
    """A slow CRM (up to five seconds) must not hold the request's tenant transaction open:
    the sidebar box and the API ask it after the transaction has ended."""
    django_connection = connections["default"]
    database = dict(django_connection.settings_dict)
    seen: list[tuple[bool, list[tuple[int, str, str]]]] = []

    def look() -> None:
        seen.append((django_connection.in_atomic_block, _transactions_open(database)))

    peer.answer("/people", 200, {"plan": "Pro"}, delay=0.3, while_waiting=look)
    with tenant_context(acme.id):
        app = crm(peer)
        ticket = make_ticket(contact=make_contact(email="maria@example.com"))
    member = acme.client(acme.admin)
    box = member.get(f"/tickets/{ticket.number}/apps/{app.id}/", HTTP_HX_REQUEST="true")
    assert box.status_code == 200
    page = box.content.decode()
    assert "Pro" in page
    assert "Not found for" not in page
    assert box["Content-Length"] == str(len(box.content))
    # Again, from the cache: the same box, the CRM not asked.
    cached = member.get(f"/tickets/{ticket.number}/apps/{app.id}/", HTTP_HX_REQUEST="true")
    assert cached.content == box.content
    assert len(peer.seen("/people")) == 1

    # "Try again" and the API ask again (the API for another contact: not cached).
    member.get(f"/tickets/{ticket.number}/apps/{app.id}/?refresh=1", HTTP_HX_REQUEST="true")
    with tenant_context(acme.id):
        other = make_ticket(contact=make_contact(email="sam@example.com"))
    answer = acme.api_client().get(f"/api/v1/tickets/{other.number}/apps/{app.id}/")
    assert answer.status_code == 200, answer.content
    assert answer.json()["state"] == "ok"
    assert answer.json()["values"] == [{"name": "plan", "value": "Pro"}]
    assert len(seen) == 2  # the refresh within the cache time was served from the cache
    assert seen == [(False, []), (False, [])]


@pytest.mark.django_db(transaction=True, databases=["default", "ops"])
def test_send_test_calls_the_tool_with_no_database_transaction_open(
    acme: TenantSetup, peer: Peer, allow_private: None
) -> None:
    """An admin's "Send test" (page and API, task integrations and contact apps) waits for
    the tool after the request's transaction; the page shows the result in its place."""
    django_connection = connections["default"]
    database = dict(django_connection.settings_dict)
    seen: list[tuple[bool, list[tuple[int, str, str]]]] = []

    def look() -> None:
        seen.append((django_connection.in_atomic_block, _transactions_open(database)))

    peer.answer("/repos/acme/app/issues", 201, GITHUB_ANSWER, delay=0.2, while_waiting=look)
    peer.answer("/people", 200, {"plan": "Pro"}, delay=0.2, while_waiting=look)
    with tenant_context(acme.id):
        integration = github(peer)
        app = crm(peer, fields=[["plan", "Plan"]])
    admin = acme.client(acme.admin)
    page = admin.post(f"/settings/integrations/tasks/{integration.id}/test/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="test-result"' in html
    assert "HTTP 201" in html
    assert str(GITHUB_ANSWER["html_url"]) in html
    assert "<!-- test result -->" not in html
    assert html.index('id="test-result"') < html.index('id="integration-form"')
    box = admin.post(
        f"/settings/integrations/apps/{app.id}/test/", {"contact_email": "ada@example.com"}
    )
    assert box.status_code == 200
    assert "<dt>Plan</dt>" in box.content.decode()
    api = acme.api_client()
    tested = api.post(f"/api/v1/external-task-integrations/{integration.id}/test/")
    assert (tested.status_code, tested.json()["url"]) == (200, GITHUB_ANSWER["html_url"])
    fetched = api.post(f"/api/v1/contact-apps/{app.id}/test/", {}, content_type=JSON)
    assert (fetched.status_code, fetched.json()["status"]) == (200, 200)
    assert seen == [(False, [])] * 4
    with tenant_context(acme.id):
        assert AuditEvent.objects.filter(action="integration.tested").count() == 4


def test_a_fetch_under_way_during_an_erasure_leaves_nothing_after_the_second_pass(
    tenant: TenantSetup, peer: Peer, allow_private: None, committed: Callable[[], Any]
) -> None:
    peer.answer("/people", 200, {"plan": "Pro"})
    app = crm(peer)
    person = make_contact(email="maria@example.com")
    pending = contact_apps.look_up_contact_app(app=app, contact=person)
    assert isinstance(pending, contact_apps.PendingFetch)
    with committed():
        personal_data.erase_contact(contact=person, actor=tenant.admin)
    contact_apps.complete_fetch(pending)  # it ends after the erasure and stores its answer
    person.refresh_from_db()
    assert contact_apps.fetch_contact_app(app=app, contact=person).cached is False  # unused
    # The erasure's second pass (scheduled after the longest fetch) deletes it.
    integration_tasks.forget_contact_app_answers(
        tenant_id=str(tenant.id), contact_ids=[str(person.id)], again=False
    )
    assert [key for key in _cached_keys(tenant.id) if str(person.id) in key] == []
