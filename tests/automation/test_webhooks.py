"""Outgoing webhooks against a real HTTP receiver on loopback: the contract's API form, the
secret shown once, signed deliveries of ticket, message, solve, rating and rule events,
retries with backoff for a day, the delivery log, the test delivery, disabling after
failures with a mail to the admins, private targets refused and DNS rebinding guarded;
admins only, another tenant's webhooks never reached, bad input a 400 with a message."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import time_machine
from django.utils import timezone
from pytest_django import DjangoCaptureOnCommitCallbacks
from pytest_django import Settings as SettingsWrapper

from automation.errors import WebhookTargetRefused
from automation.models import Webhook, WebhookDelivery, WebhookDeliveryStatus
from automation.rules import services as rule_services
from automation.webhooks import sender, services, tasks
from helpdesk.mail.models import OutboundEmail
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import AuditEvent, MembershipRole
from tests.automation.trickle_peer import trickling
from tests.automation.webhook_receiver import Receiver, serve
from tests.conftest import TenantSetup
from tests.factories.accounts import make_member
from tests.factories.tickets import make_contact, make_ticket
from tickets.contacts import personal_data
from tickets.models import SatisfactionRating
from tickets.satisfaction import services as satisfaction
from tickets.ticket import services as ticket_services

JSON = "application/json"
# A public address needs no DNS (the test machine may have none).
PUBLIC = "https://93.184.215.14/hooks"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serve() as running:
        yield running


@pytest.fixture
def allow_private(settings: SettingsWrapper) -> None:
    settings.HELPDESK_WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    settings.HELPDESK_WEBHOOK_TIMEOUT_SECONDS = 5


@pytest.fixture
def committed(
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> Callable[[], Any]:
    @contextmanager
    def block() -> Iterator[None]:
        with django_capture_on_commit_callbacks(execute=True):
            yield

    return block


def signature(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def due(delivery: WebhookDelivery) -> datetime.datetime:
    assert delivery.next_attempt_at is not None
    return delivery.next_attempt_at


def subscribe(committed: Callable[[], Any], url: str, events: list[str]) -> tuple[Webhook, str]:
    with committed():
        return services.create_webhook(actor=None, url=url, events=events)


# --- API: the contract's form ----------------------------------------------------------


def test_create_shows_the_secret_once_and_is_audited(
    acme: TenantSetup, allow_private: None, receiver: Receiver
) -> None:
    api = acme.api_client()
    response = api.post(
        "/api/v1/webhooks/",
        {"url": receiver.url, "events": ["ticket.created", "message.created"]},
        content_type=JSON,
    )
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["url"] == receiver.url
    assert created["events"] == ["ticket.created", "message.created"]
    assert len(created["secret"]) == 64
    shown = api.get(f"/api/v1/webhooks/{created['id']}/").json()
    assert "secret" not in shown
    assert "secret" not in api.get("/api/v1/webhooks/").json()["results"][0]
    with tenant_context(acme.id):
        entry = AuditEvent.objects.get(action="webhook.created")
        assert (entry.actor_id, entry.target_id) == (acme.admin.id, created["id"])
        assert entry.ip_address == "127.0.0.1"


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"url": "ftp://example.com/x", "events": ["ticket.created"]}, None, "https://"),
        ({"url": "not a url", "events": ["ticket.created"]}, None, "https://"),
        ({"url": "https://user:pw@example.com/", "events": ["ticket.created"]}, None, "password"),
        ({"url": PUBLIC, "events": []}, "events", ""),
        ({"url": PUBLIC, "events": ["ticket.exploded"]}, None, "not an event"),
        ({"url": PUBLIC, "events": "ticket.created"}, "events", ""),
        ({"events": ["ticket.created"]}, "url", ""),
        ({"url": PUBLIC, "events": ["ticket.created"], "x": 1}, "x", ""),
        ({"url": "https://no-such-host.invalid/", "events": ["ticket.created"]}, None, "found"),
    ],
)
def test_bad_input_is_a_400_with_a_message(
    acme: TenantSetup, body: dict[str, Any], field: str | None, words: str
) -> None:
    response = acme.api_client().post("/api/v1/webhooks/", body, content_type=JSON)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["message"]
    if field:
        assert field in error["fields"]
    if words:
        assert words in error["message"]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/",
        "http://localhost/",
        "http://10.1.2.3/",
        "http://[::1]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://192.168.0.10/",
    ],
)
def test_loopback_and_private_targets_are_refused(acme: TenantSetup, url: str) -> None:
    response = acme.api_client().post(
        "/api/v1/webhooks/", {"url": url, "events": ["ticket.created"]}, content_type=JSON
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "webhook_target_refused"
    assert "HELPDESK_OUTBOUND_ALLOW_PRIVATE_HOSTS" in error["message"]


def test_agents_may_not_manage_webhooks(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        agent = make_member(acme.tenant, MembershipRole.AGENT)
    api = acme.api_client(agent)
    assert api.get("/api/v1/webhooks/").status_code == 403
    response = api.post(
        "/api/v1/webhooks/",
        {"url": PUBLIC, "events": ["ticket.created"]},
        content_type=JSON,
    )
    assert response.status_code == 403


def test_another_tenants_webhook_is_never_reached(
    acme: TenantSetup,
    globex: TenantSetup,
    allow_private: None,
    receiver: Receiver,
    committed: Callable[[], Any],
) -> None:
    with tenant_context(acme.id):
        webhook, _ = subscribe(committed, receiver.url, ["ticket.created"])
    theirs = globex.api_client()
    base = f"/api/v1/webhooks/{webhook.id}/"
    assert theirs.get(base).status_code == 404
    assert theirs.patch(base, {"url": receiver.url}, content_type=JSON).status_code == 404
    assert theirs.delete(base).status_code == 404
    assert theirs.post(f"{base}test/").status_code == 404
    assert theirs.get(f"{base}deliveries/").status_code == 404
    assert theirs.post(f"{base}rotate-secret/").status_code == 404
    assert theirs.get("/api/v1/webhooks/").json()["results"] == []
    page = globex.client(globex.admin).get(f"/settings/webhooks/{webhook.id}/")
    assert page.status_code == 404
    # And globex's tickets never reach acme's webhook.
    with tenant_context(globex.id), committed():
        make_ticket(subject="Globex only")
    assert receiver.requests == []


# --- Deliveries --------------------------------------------------------------------------


def test_ticket_and_message_events_are_signed_posts_after_commit(
    tenant: TenantSetup,
    allow_private: None,
    receiver: Receiver,
    committed: Callable[[], Any],
) -> None:
    webhook, secret = subscribe(committed, receiver.url, ["ticket.created", "message.created"])
    with committed():
        ticket = make_ticket(subject="Printer on fire", body="Smoke everywhere.")
        assert receiver.requests == []  # nothing inside the transaction
    assert sorted(receiver.events()) == ["message.created", "ticket.created"]
    for request in receiver.requests:
        assert request.headers["X-Helpdesk-Signature"] == signature(request.body, secret)
        assert request.headers["Content-Type"] == "application/json"
        assert request.path == "/hooks/helpdesk"
    created = next(r.json for r in receiver.requests if r.json["event"] == "ticket.created")
    assert created["data"]["ticket"]["number"] == ticket.number
    assert created["data"]["ticket"]["subject"] == "Printer on fire"
    assert created["data"]["ticket"]["url"].endswith(f"/tickets/{ticket.number}/")
    assert created["tenant"]["slug"] == "acme"
    message = next(r.json for r in receiver.requests if r.json["event"] == "message.created")
    assert message["data"]["message"]["body_text"] == "Smoke everywhere."
    log = list(WebhookDelivery.objects.filter(webhook=webhook))
    assert {d.status for d in log} == {WebhookDeliveryStatus.SUCCEEDED}
    assert all(d.response_status == 200 and d.response_ms is not None for d in log)
    assert log[0].response_excerpt == '{"ok": true}'
    # An update is no event for this webhook; a redelivered queue task queues nothing twice.
    with committed():
        ticket_services.update_ticket(ticket=ticket, actor=None, priority="high")
    assert len(receiver.requests) == 2


def test_updates_solves_and_ratings(
    tenant: TenantSetup,
    allow_private: None,
    receiver: Receiver,
    committed: Callable[[], Any],
) -> None:
    subscribe(committed, receiver.url, ["ticket.updated", "ticket.solved", "rating.received"])
    with committed():
        ticket = make_ticket()
    assert receiver.requests == []
    with committed():
        ticket_services.update_ticket(ticket=ticket, actor=None, priority="high")
    assert receiver.events() == ["ticket.updated"]
    with committed():
        ticket_services.change_status(ticket=ticket, status="solved", actor=None)
    assert sorted(receiver.events()[1:]) == ["ticket.solved", "ticket.updated"]
    with committed():
        satisfaction.send_due_surveys(now=timezone.now() + datetime.timedelta(days=3))
    token = SatisfactionRating.objects.get().token
    with committed():
        satisfaction.record_rating(token=token, score="good", comment="Quick, thanks")
    rated = receiver.requests[-1].json
    assert rated["event"] == "rating.received"
    assert rated["data"]["rating"]["score"] == "good"
    assert rated["data"]["ticket"]["number"] == ticket.number


def test_a_rule_calls_a_webhook(
    tenant: TenantSetup,
    allow_private: None,
    receiver: Receiver,
    committed: Callable[[], Any],
) -> None:
    webhook, secret = subscribe(committed, receiver.url, ["sla.missed"])
    with committed():
        rule = rule_services.create_rule(
            actor=None,
            name="Refunds to the CRM",
            conditions=[{"field": "subject", "operator": "contains", "value": "refund"}],
            actions=[{"action": "call_webhook", "value": str(webhook.id)}],
        )
    with committed():
        make_ticket(subject="Refund please")
        make_ticket(subject="Something else")
    assert receiver.events() == ["rule.triggered"]
    body = receiver.requests[0]
    assert body.headers["X-Helpdesk-Signature"] == signature(body.body, secret)
    assert body.json["data"]["rule"] == {"id": str(rule.id), "name": "Refunds to the CRM"}
    assert body.json["data"]["ticket"]["subject"] == "Refund please"


def test_a_rule_naming_an_unknown_webhook_is_refused(acme: TenantSetup) -> None:
    response = acme.api_client().post(
        "/api/v1/rules/",
        {
            "name": "Call nowhere",
            "actions": [
                {"action": "call_webhook", "value": "0190d2a4-0000-7000-8000-000000000000"}
            ],
        },
        content_type=JSON,
    )
    assert response.status_code == 400
    assert "webhook" in response.json()["error"]["message"]


def test_failures_retry_with_backoff_then_succeed(
    tenant: TenantSetup,
    allow_private: None,
    receiver: Receiver,
    committed: Callable[[], Any],
) -> None:
    webhook, _ = subscribe(committed, receiver.url, ["ticket.created"])
    receiver.status = 503
    with committed():
        make_ticket()
    delivery = WebhookDelivery.objects.get(webhook=webhook)
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("pending", 1, 503)
    assert delivery.error == "the receiver answered 503"
    wait = (due(delivery) - timezone.now()).total_seconds()
    assert 20 < wait <= 30
    # Not due yet: the sweeper leaves it.
    assert tasks.send_due_webhook_deliveries(tenant_id=str(tenant.id)) == 0
    with time_machine.travel(timezone.now() + datetime.timedelta(seconds=31)):
        assert tasks.send_due_webhook_deliveries(tenant_id=str(tenant.id)) == 1
        delivery.refresh_from_db()
        assert (delivery.attempts, delivery.status) == (2, "pending")
        wait = (due(delivery) - timezone.now()).total_seconds()
        assert 50 < wait <= 60  # doubled
    receiver.status = 200
    with time_machine.travel(timezone.now() + datetime.timedelta(seconds=100)):
        tasks.send_due_webhook_deliveries(tenant_id=str(tenant.id))
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("succeeded", 3, 200)
    webhook.refresh_from_db()
    assert webhook.consecutive_failures == 0
    assert len(receiver.requests) == 3


def test_retries_stop_after_a_day(
    tenant: TenantSetup,
    allow_private: None,
    receiver: Receiver,
    committed: Callable[[], Any],
) -> None:
    webhook, _ = subscribe(committed, receiver.url, ["ticket.created"])
    receiver.status = 500
    with committed():
        make_ticket()
    delivery = WebhookDelivery.objects.get(webhook=webhook)
    start = timezone.now()
    attempts = 1
    for _ in range(40):
        delivery.refresh_from_db()
        if delivery.status != "pending":
            break
        with time_machine.travel(due(delivery) + datetime.timedelta(seconds=1)):
            tasks.send_due_webhook_deliveries(tenant_id=str(tenant.id))
        attempts += 1
    delivery.refresh_from_db()
    assert delivery.status == "failed"
    assert 10 <= delivery.attempts <= 16
    assert delivery.updated_at - start < datetime.timedelta(days=1, minutes=5)
    assert services.retry_delay(1) == 30
    assert services.retry_delay(12) == services.LONGEST_WAIT_SECONDS


def test_a_webhook_that_keeps_failing_is_disabled_and_admins_told(
    tenant: TenantSetup,
    allow_private: None,
    receiver: Receiver,
    committed: Callable[[], Any],
    settings: SettingsWrapper,
) -> None:
    settings.HELPDESK_WEBHOOK_DISABLE_AFTER_FAILURES = 3
    webhook, _ = subscribe(committed, receiver.url, ["ticket.created"])
    receiver.status = 500
    for _ in range(3):
        with committed():
            services.send_test(webhook=webhook, actor=tenant.admin)
    webhook.refresh_from_db()
    assert not webhook.is_active
    assert webhook.disabled_reason == "3 failed attempts in a row"
    assert AuditEvent.objects.filter(action="webhook.disabled", target_id=str(webhook.id)).exists()
    notice = OutboundEmail.objects.get(tags__contains=["webhook-disabled"])
    assert notice.to == [tenant.admin.user.email]
    assert receiver.url in notice.body_text
    # Events no longer go out; turning it on again starts afresh.
    with committed():
        make_ticket()
    assert len(receiver.requests) == 3
    receiver.status = 200
    with committed():
        services.update_webhook(webhook=webhook, actor=tenant.admin, is_active=True)
    with committed():
        make_ticket()
    assert len(receiver.requests) == 4
    webhook.refresh_from_db()
    assert (webhook.is_active, webhook.consecutive_failures) == (True, 0)


def test_the_test_button_and_the_delivery_log_api(
    acme: TenantSetup,
    allow_private: None,
    receiver: Receiver,
    committed: Callable[[], Any],
) -> None:
    with tenant_context(acme.id):
        webhook, secret = subscribe(committed, receiver.url, ["ticket.created"])
    api = acme.api_client()
    with committed():
        response = api.post(f"/api/v1/webhooks/{webhook.id}/test/")
    assert response.status_code == 202
    assert receiver.events() == ["webhook.test"]
    assert receiver.requests[0].headers["X-Helpdesk-Signature"] == signature(
        receiver.requests[0].body, secret
    )
    log = api.get(f"/api/v1/webhooks/{webhook.id}/deliveries/").json()["results"]
    assert [(d["event"], d["status"], d["response_status"]) for d in log] == [
        ("webhook.test", "succeeded", 200)
    ]
    rotated = api.post(f"/api/v1/webhooks/{webhook.id}/rotate-secret/").json()["secret"]
    assert rotated != secret
    with committed():
        api.post(f"/api/v1/webhooks/{webhook.id}/test/")
    assert receiver.requests[1].headers["X-Helpdesk-Signature"] == signature(
        receiver.requests[1].body, rotated
    )
    changed = api.patch(
        f"/api/v1/webhooks/{webhook.id}/", {"events": ["ticket.solved"]}, content_type=JSON
    )
    assert changed.json()["events"] == ["ticket.solved"]
    assert api.delete(f"/api/v1/webhooks/{webhook.id}/").status_code == 204
    with tenant_context(acme.id):
        actions = list(
            AuditEvent.objects.filter(target_id=str(webhook.id))
            .order_by("id")
            .values_list("action", flat=True)
        )
    assert actions == [
        "webhook.created",
        "webhook.tested",
        "webhook.updated",
        "webhook.tested",
        "webhook.updated",
        "webhook.deleted",
    ]


def test_a_target_that_became_private_is_not_called(
    tenant: TenantSetup,
    allow_private: None,
    receiver: Receiver,
    committed: Callable[[], Any],
    settings: SettingsWrapper,
) -> None:
    webhook, _ = subscribe(committed, receiver.url, ["ticket.created"])
    settings.HELPDESK_WEBHOOK_ALLOW_PRIVATE_HOSTS = False
    with committed():
        make_ticket()
    assert receiver.requests == []
    delivery = WebhookDelivery.objects.get(webhook=webhook)
    assert delivery.status == "failed"  # refused: never retried
    assert "private" in delivery.error


def test_the_connection_goes_to_the_checked_address(
    allow_private: None, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: the name is resolved once, checked, and that address is connected
    to; a second answer (here a black-holed private address) is never asked for."""
    answers = iter(["127.0.0.1", "10.255.255.1"])
    asked: list[str] = []

    def fake_getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        asked.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    outcome = sender.post(
        f"http://hooks.example.test:{receiver.port}/x", b"{}", {"Content-Type": JSON}
    )
    assert outcome.succeeded, outcome.error
    assert asked == ["hooks.example.test"]
    assert receiver.requests[0].headers["Host"] == f"hooks.example.test:{receiver.port}"


def test_rebinding_to_a_private_address_is_refused(
    settings: SettingsWrapper, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.HELPDESK_WEBHOOK_ALLOW_PRIVATE_HOSTS = False

    def fake_getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    with pytest.raises(WebhookTargetRefused):
        sender.post("https://mixed.example.test/", b"{}", {})


# --- Pages -------------------------------------------------------------------------------


def test_admin_pages_create_show_secret_test_and_log(
    acme: TenantSetup, allow_private: None, receiver: Receiver, committed: Callable[[], Any]
) -> None:
    client = acme.client(acme.admin)
    page = client.get("/settings/webhooks/")
    assert page.status_code == 200
    created = client.post(
        "/settings/webhooks/", {"url": receiver.url, "events": ["ticket.created"]}
    )
    assert created.status_code == 200
    with tenant_context(acme.id):
        webhook = Webhook.objects.get()
    assert 'id="webhook-secret"' in created.content.decode()
    refused = client.post("/settings/webhooks/", {"url": "ftp://x", "events": ["ticket.created"]})
    assert refused.status_code == 400
    assert "https://" in refused.content.decode()
    with committed():
        tested = client.post(f"/settings/webhooks/{webhook.id}/test/", HTTP_HX_REQUEST="true")
    assert tested.status_code == 200
    assert receiver.events() == ["webhook.test"]
    log = client.get(f"/settings/webhooks/{webhook.id}/", HTTP_HX_REQUEST="true")
    assert "Succeeded" in log.content.decode()
    assert "HTTP 200" in log.content.decode()
    with tenant_context(acme.id):
        agent = make_member(acme.tenant, MembershipRole.AGENT)
    assert acme.client(agent).get("/settings/webhooks/").status_code == 403
    assert acme.client(agent).post(f"/settings/webhooks/{webhook.id}/test/").status_code == 403


@pytest.mark.django_db(transaction=True, databases=["default", "ops"])
def test_the_sweeper_sends_lost_and_interrupted_deliveries_per_tenant(
    acme: TenantSetup, globex: TenantSetup, allow_private: None, receiver: Receiver
) -> None:
    with tenant_context(acme.id):
        webhook, _ = services.create_webhook(
            actor=None, url=receiver.url, events=["ticket.created"]
        )
        now = timezone.now()
        lost = WebhookDelivery.objects.create(
            webhook=webhook,
            event="webhook.test",
            key="lost",
            payload={"event": "webhook.test"},
            next_attempt_at=now,
        )
        stuck = WebhookDelivery.objects.create(
            webhook=webhook,
            event="webhook.test",
            key="stuck",
            payload={"event": "webhook.test"},
            status="sending",
            claimed_at=now - datetime.timedelta(minutes=11),
            next_attempt_at=now - datetime.timedelta(minutes=11),
        )
        waiting = WebhookDelivery.objects.create(
            webhook=webhook,
            event="webhook.test",
            key="later",
            payload={"event": "webhook.test"},
            next_attempt_at=now + datetime.timedelta(hours=1),
        )
    assert tasks.sweep_webhook_deliveries() == 1  # acme only; globex has nothing
    with tenant_context(acme.id):
        statuses = {
            d.key: d.status
            for d in WebhookDelivery.objects.filter(id__in=[lost.id, stuck.id, waiting.id])
        }
    assert statuses == {"lost": "succeeded", "stuck": "succeeded", "later": "pending"}
    assert len(receiver.requests) == 2


def test_an_interrupted_delivery_past_its_day_of_retries_fails(
    acme: TenantSetup, allow_private: None, receiver: Receiver
) -> None:
    """One that keeps stopping its worker is not sent again for ever."""
    with tenant_context(acme.id):
        webhook, _ = services.create_webhook(
            actor=None, url=receiver.url, events=["ticket.created"]
        )
        now = timezone.now()
        stuck = WebhookDelivery.objects.create(
            webhook=webhook,
            event="webhook.test",
            key="old",
            payload={"event": "webhook.test"},
            status="sending",
            attempts=50,
            claimed_at=now - datetime.timedelta(minutes=11),
        )
        WebhookDelivery.objects.filter(id=stuck.id).update(
            created_at=now - services.RETRY_FOR - datetime.timedelta(minutes=1)
        )
        assert services.mark_interrupted_deliveries() == 1
        stuck.refresh_from_db()
    assert stuck.status == "failed"
    assert "cut off" in stuck.error
    assert receiver.requests == []


def test_a_receiver_trickling_its_answer_is_cut_off_at_twice_the_timeout(
    allow_private: None, settings: SettingsWrapper
) -> None:
    """The timeout bounds each read; a byte every quarter second would otherwise keep the
    worker (and the automation queue behind it) for the whole answer."""
    settings.HELPDESK_WEBHOOK_TIMEOUT_SECONDS = 0.5
    with trickling(length=40, gap=0.25) as base:
        started = time.monotonic()
        outcome = sender.post(f"{base}/hook", b"{}", {})
        took = time.monotonic() - started
    assert took < 3
    assert not outcome.succeeded
    assert outcome.error == "no complete answer within 1 seconds"


def test_erasing_a_person_erases_what_the_delivery_log_kept(
    tenant: TenantSetup,
    allow_private: None,
    receiver: Receiver,
    committed: Callable[[], Any],
) -> None:
    webhook, _ = subscribe(committed, receiver.url, ["ticket.created"])
    receiver.answer = b'{"crm_note": "Maria Rossi, VIP"}'
    with committed():
        ticket = make_ticket(subject="Maria's printer", contact=make_contact(name="Maria Rossi"))
    with committed():
        make_ticket(subject="Someone else")
    with committed():
        personal_data.erase_contact(contact=ticket.contact, actor=tenant.admin)
    log = {
        d.payload.get("erased", False): d for d in WebhookDelivery.objects.filter(webhook=webhook)
    }
    assert log[True].response_excerpt == ""
    assert "Maria" not in str(log[True].payload)
    assert log[False].payload["data"]["ticket"]["subject"] == "Someone else"


def test_a_secret_written_with_another_key_fails_the_delivery_once(
    tenant: TenantSetup,
    allow_private: None,
    receiver: Receiver,
    committed: Callable[[], Any],
    settings: SettingsWrapper,
) -> None:
    webhook, _ = subscribe(committed, receiver.url, ["ticket.created"])
    settings.HELPDESK_ENCRYPTION_KEY = "cDnN0GHhZ6tIYrDPi6WcNx5jQ_5p4P1Vqk3B0xbXb8E="
    with committed():
        make_ticket()
    delivery = WebhookDelivery.objects.get(webhook=webhook)
    assert delivery.status == "failed"
    assert "make a new secret" in delivery.error
    assert receiver.requests == []
