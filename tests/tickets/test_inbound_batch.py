"""The batched inbound path: intake wakes one drain per burst, the drain claims queued rows
and processes them in one transaction with a savepoint per mail (arrival order, a poisoned
mail failed alone, an outage leaving the batch queued), the cached recipient lookup, and
ingest_email taking the same path for many files."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from django.core.cache import cache
from django.core.cache.backends.base import memcache_key_warnings
from django.core.management import call_command
from django.db import OperationalError, connection, connections
from pytest_django import DjangoCaptureOnCommitCallbacks, Settings

from departments import services as department_services
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.context import tenant_context
from tests.conftest import TenantSetup
from tests.tickets.test_inbound import build
from tickets.mail_in import intake, parsing
from tickets.mail_in import services as inbound
from tickets.mail_in import tasks as mail_in_tasks
from tickets.models import InboundEmail, Message, Ticket, UnroutedEmail
from tickets.ticket.services import batch as ticket_batch


def store(raw: bytes, to: str = "support@acme.localhost") -> intake.Accepted:
    accepted = intake.accept(
        raw=raw, envelope_to=[to], envelope_from="", channel="test", enqueue=False
    )
    assert accepted is not None
    return accepted


def test_a_batch_threads_a_reply_to_a_ticket_opened_earlier_in_it(acme: TenantSetup) -> None:
    store(build(subject="First", message_id="<b1@example.test>"))
    store(build(subject="Re: First", body="more", In_Reply_To="<b1@example.test>"))
    store(build(subject="Second", sender="Dan <dan@example.test>"))
    with tenant_context(acme.id):
        done = inbound.process_batch(limit=10)
        assert [e.status for e in done] == ["processed"] * 3
        assert Ticket.objects.count() == 2
        first = Ticket.objects.get(subject="First")
        assert done[1].ticket_id == first.id
        assert list(
            Message.objects.filter(ticket=first, kind="customer")
            .order_by("created_at")
            .values_list("body_text", flat=True)
        ) == ["Help!", "more"]


def test_the_oldest_queued_mail_is_claimed_first_up_to_the_limit(acme: TenantSetup) -> None:
    ids = [store(build(subject=f"Mail {n}")).email_id for n in range(3)]
    with tenant_context(acme.id):
        done = inbound.process_batch(limit=2)
        assert [str(e.id) for e in done] == ids[:2]
        assert InboundEmail.objects.get(id=ids[2]).status == "queued"
        assert inbound.process_batch(limit=2)[0].id == UUID(ids[2])
        assert inbound.process_batch(limit=2) == []


def test_a_poisoned_mail_fails_with_its_reason_and_the_others_go_on(
    acme: TenantSetup, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = parsing.parse_email

    def parse(raw: bytes) -> Any:
        if b"Poison" in raw:
            raise ValueError("cannot read this one")
        return real(raw)

    monkeypatch.setattr(inbound, "parse_email", parse)
    store(build(subject="Good 1"))
    poisoned = store(build(subject="Poison"))
    store(build(subject="Good 2"))
    with tenant_context(acme.id):
        done = inbound.process_batch(limit=10)
        assert [e.status for e in done] == ["processed", "failed", "processed"]
        failed = InboundEmail.objects.get(id=poisoned.email_id)
        assert failed.status == "failed"
        assert failed.reason == "processing failed: ValueError: cannot read this one"
        assert failed.attempts == 1
        assert failed.ticket_id is None
        assert sorted(Ticket.objects.values_list("subject", flat=True)) == ["Good 1", "Good 2"]


def test_content_made_before_the_serial_part_is_used_and_a_failure_there_fails_alone(
    acme: TenantSetup, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each mail's body and content are made once, before the batch's serial part; where
    making them fails, the batch tries again and that mail alone fails with the reason."""
    real = inbound._content
    calls: list[str] = []

    def content(parsed: parsing.ParsedEmail) -> Any:
        calls.append(parsed.subject)
        if parsed.subject == "Broken body":
            raise ValueError("cannot sanitize this one")
        return real(parsed)

    monkeypatch.setattr(inbound, "_content", content)
    store(build(subject="Body 1"))
    store(build(subject="Body 2"))
    with tenant_context(acme.id):
        assert [e.status for e in inbound.process_batch(limit=10)] == ["processed"] * 2
    assert calls == ["Body 1", "Body 2"]
    store(build(subject="Body 3"))
    broken = store(build(subject="Broken body"))
    store(build(subject="Body 4"))
    with tenant_context(acme.id):
        done = inbound.process_batch(limit=10)
        assert [e.status for e in done] == ["processed", "failed", "processed"]
        assert InboundEmail.objects.get(id=broken.email_id).reason == (
            "processing failed: ValueError: cannot sanitize this one"
        )


def test_an_outage_fails_the_whole_batch_and_leaves_every_mail_queued(
    acme: TenantSetup, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = parsing.parse_email

    def parse(raw: bytes) -> Any:
        if b"Outage" in raw:
            raise OperationalError("server closed the connection unexpectedly")
        return real(raw)

    monkeypatch.setattr(inbound, "parse_email", parse)
    store(build(subject="Fine"))
    store(build(subject="Outage"))
    with pytest.raises(OperationalError), tenant_context(acme.id):
        inbound.process_batch(limit=10)
    with tenant_context(acme.id):
        assert set(InboundEmail.objects.values_list("status", flat=True)) == {"queued"}
        assert not Ticket.objects.exists()


def test_a_batch_never_claims_another_tenants_mail(acme: TenantSetup, globex: TenantSetup) -> None:
    theirs = store(build(to="support@globex.localhost"), to="support@globex.localhost")
    with tenant_context(acme.id):
        assert inbound.process_batch(limit=10, email_ids=[UUID(theirs.email_id)]) == []
        assert inbound.process_batch(limit=10) == []
    with tenant_context(globex.id):
        assert InboundEmail.objects.get(id=theirs.email_id).status == "queued"


def test_intake_wakes_the_drain_once_per_burst(
    acme: TenantSetup,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    woken: list[dict[str, Any]] = []
    monkeypatch.setattr(
        mail_in_tasks.drain_inbound_emails, "delay", lambda **kwargs: woken.append(kwargs)
    )
    cache.delete(intake.wake_key(str(acme.id)))
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(3):
            intake.accept(
                raw=build(subject=f"Burst {n}"),
                envelope_to=["support@acme.localhost"],
                envelope_from="",
                channel="test",
            )
    assert woken == [{"tenant_id": str(acme.id)}]
    # The drain deletes the key before it claims: mail after that wakes it again.
    cache.delete(intake.wake_key(str(acme.id)))
    with django_capture_on_commit_callbacks(execute=True):
        store_and_wake = intake.accept(
            raw=build(subject="Later"),
            envelope_to=["support@acme.localhost"],
            envelope_from="",
            channel="test",
        )
    assert store_and_wake is not None
    assert len(woken) == 2


def test_the_drain_processes_every_queued_mail_in_batches(
    acme: TenantSetup, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mail_in_tasks, "BATCH_SIZE", 2)
    for n in range(5):
        store(build(subject=f"Queued {n}"))
    assert mail_in_tasks.drain_inbound_emails.apply(kwargs={"tenant_id": str(acme.id)}).get() == 5
    with tenant_context(acme.id):
        assert set(InboundEmail.objects.values_list("status", flat=True)) == {"processed"}
        assert Ticket.objects.count() == 5


def test_the_sweeper_wakes_the_drain_for_stale_mail(
    acme: TenantSetup,
    settings: Settings,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    settings.HELPDESK_INBOUND_SWEEP_AFTER_SECONDS = -60
    store(build(subject="Lost task"))
    with django_capture_on_commit_callbacks(execute=True):
        assert (
            mail_in_tasks.requeue_inbound_emails.apply(kwargs={"tenant_id": str(acme.id)}).get()
            == 1
        )
    with tenant_context(acme.id):
        assert InboundEmail.objects.get().status == "processed"


def test_a_redelivered_mail_is_the_same_row(acme: TenantSetup) -> None:
    raw = build(message_id="<again@example.test>")
    first = store(raw)
    second = store(raw)
    assert first.created
    assert not second.created
    assert first.email_id == second.email_id
    without_id = b"From: a@example.test\r\nTo: support@acme.localhost\r\n\r\nno id\r\n"
    assert store(without_id).email_id == store(without_id).email_id


def test_recipient_lookup_is_cached_and_follows_mailbox_changes(
    acme: TenantSetup, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenancy_selectors.forget_inbound_address("billing@acme.localhost")  # earlier tests'
    assert intake.find_inbound_address("billing@acme.localhost") is None  # cached: none
    with tenant_context(acme.id):
        billing = department_services.create_department(name="Billing")
        department_services.create_mailbox(address="billing@acme.localhost", department=billing)
    row = intake.find_inbound_address("Billing+t-abc123@acme.localhost")
    assert row is not None
    assert row.tenant_id == acme.id
    # Cached now: the database is not asked again.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            "helpdesk.tenancy.models.InboundAddress.objects.filter",
            lambda **_: pytest.fail("asked the database"),
        )
        cached = intake.find_inbound_address("billing@acme.localhost")
        assert cached is not None
        assert cached.mailbox_id == row.mailbox_id


def test_intake_stores_mail_when_the_cache_is_down(
    acme: TenantSetup, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(*_: Any, **__: Any) -> Any:
        raise ConnectionError("redis is down")

    monkeypatch.setattr(cache, "get_many", down)
    monkeypatch.setattr(cache, "set_many", down)
    accepted = store(build(subject="Cache down"))
    assert accepted.tenant_id == str(acme.id)
    assert (
        intake.accept(
            raw=build(to="nobody@nowhere.test"),
            envelope_to=["nobody@nowhere.test"],
            envelope_from="",
            channel="test",
        )
        is None
    )
    assert UnroutedEmail.objects.count() == 1


def test_ingest_email_with_many_files_threads_within_them_in_input_order(
    acme: TenantSetup, tmp_path: Path
) -> None:
    files = []
    for name, raw in [
        ("a", build(subject="Opening", message_id="<ing-a@example.test>")),
        ("b", build(subject="Re: Opening", In_Reply_To="<ing-a@example.test>")),
        ("c", build(sender="support@acme.localhost")),
        ("d", build(subject="Another", sender="Dan <dan@example.test>")),
    ]:
        path = tmp_path / f"{name}.eml"
        path.write_bytes(raw)
        files.append(str(path))
    files.insert(2, str(tmp_path / "missing.eml"))
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_status:
        call_command("ingest_email", *files, stdout=out)
    assert exit_status.value.code == 75  # the unreadable file
    assert out.getvalue().splitlines() == [
        "#1",
        "#1",
        "failed: cannot read " + str(tmp_path / "missing.eml") + ": No such file or directory",
        "rejected: sent from one of our own mailboxes",
        "#2",
    ]


def test_ingest_email_processes_what_a_drain_left_queued_after_waiting_for_it(
    acme: TenantSetup, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A drain woken by other mail may hold some of the files' rows while ingest_email's
    batch claims (those are skipped): ingest waits for them and processes what is still
    queued, so every file still gets its line."""
    real = inbound.process_batch
    calls: list[int] = []

    def first_skips_the_last(**kwargs: Any) -> Any:
        calls.append(len(kwargs["email_ids"]))
        if len(calls) == 1:
            kwargs["email_ids"] = kwargs["email_ids"][:-1]  # as if a drain held the last
        return real(**kwargs)

    monkeypatch.setattr(inbound, "process_batch", first_skips_the_last)
    files = []
    for name in ("a", "b"):
        path = tmp_path / f"{name}.eml"
        path.write_bytes(build(subject=f"Piped {name}"))
        files.append(str(path))
    out = io.StringIO()
    call_command("ingest_email", *files, stdout=out)
    assert out.getvalue().splitlines() == ["#1", "#2"]
    assert calls == [2, 1]


def test_a_stale_cached_recipient_is_forgotten_and_looked_up_again(acme: TenantSetup) -> None:
    """A tenant deleted behind the services' back leaves a cached answer naming it: the
    insert checks the address row in the same statement, and intake asks the database."""
    cache.set(
        tenancy_selectors.inbound_address_key("support@acme.localhost"),
        (str(uuid4()), str(uuid4())),
    )
    accepted = store(build(subject="After a stale entry"))
    assert accepted.tenant_id == str(acme.id)
    with tenant_context(acme.id):
        assert InboundEmail.objects.get(id=accepted.email_id).mailbox_id == acme.mailbox.id


def test_recipient_cache_keys_are_bounded_whatever_the_address() -> None:
    """Recipients come from strangers' mail: spaces, control characters and any length make
    keys of the same short, plain form (and one address keeps one key)."""
    for address in ("a b@example.test", "x" * 1000 + "@example.test", "\u00fc\x01@e.test"):
        key = cache.make_key(tenancy_selectors.inbound_address_key(address))
        assert list(memcache_key_warnings(key)) == [], address
    assert tenancy_selectors.inbound_address_key(
        " Support@Acme.localhost"
    ) == tenancy_selectors.inbound_address_key("support@acme.localhost")


class _HeldBatch:
    """A first drain's batch (another connection, another thread) held in the middle of its
    processing until released, or made to fail there; what happens meanwhile is recorded."""

    def __init__(self, acme: TenantSetup, monkeypatch: pytest.MonkeyPatch, *, fail: bool) -> None:
        self.events: list[str] = []
        self.held, self.release = threading.Event(), threading.Event()
        self.fail = fail
        self.owner = 0
        process, parse = inbound._process_claimed, inbound.prepare

        def held_process(emails: list[InboundEmail], *args: Any, **kwargs: Any) -> Any:
            if threading.get_ident() == self.owner:
                self.held.set()
                assert self.release.wait(20)
                if self.fail:
                    raise RuntimeError("the first drain's batch fails")
            return process(emails, *args, **kwargs)

        def recorded_parse(email: InboundEmail) -> Any:
            self.events.append(f"parsed {email.message_id}")
            return parse(email)

        monkeypatch.setattr(inbound, "_process_claimed", held_process)
        monkeypatch.setattr(inbound, "prepare", recorded_parse)
        self.thread = threading.Thread(target=self._drain, args=(acme,))

    def _drain(self, acme: TenantSetup) -> None:
        self.owner = threading.get_ident()
        try:
            with tenant_context(acme.id):
                inbound.process_batch(limit=1)
            self.events.append("first batch committed")
        except RuntimeError:
            self.events.append("first batch rolled back")
        finally:
            connections.close_all()

    def start(self) -> None:
        self.thread.start()
        assert self.held.wait(10)


def _second_drain(acme: TenantSetup, done: list[list[InboundEmail]]) -> threading.Thread:
    def drain() -> None:
        try:
            with tenant_context(acme.id):
                done.append(inbound.process_batch(limit=1))
        finally:
            connections.close_all()

    return threading.Thread(target=drain)


def _opening_and_reply(name: str) -> None:
    """A mail, then a reply to it: `<name@example.test>` and `<name-2@example.test>`."""
    store(build(subject=f"{name} opening", message_id=f"<{name}@example.test>"))
    store(
        build(
            subject=f"Re: {name} opening",
            message_id=f"<{name}-2@example.test>",
            In_Reply_To=f"<{name}@example.test>",
        )
    )


def _wait_for(events: list[str], event: str) -> None:
    deadline = time.monotonic() + 10
    while event not in events and time.monotonic() < deadline:
        time.sleep(0.02)


@pytest.mark.django_db(transaction=True, databases=["default", "ops"])
def test_a_second_drain_parses_its_batch_while_the_first_writes_and_processes_after_it(
    acme: TenantSetup, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Drains side by side: the second claims the next mail (a reply to the first drain's
    mail), parses it while the first batch is in progress, waits for that batch to commit,
    then threads the reply onto the ticket it opened."""
    _opening_and_reply("pipe-a")
    first = _HeldBatch(acme, monkeypatch, fail=False)
    first.start()
    done: list[list[InboundEmail]] = []
    second = _second_drain(acme, done)
    second.start()
    try:
        _wait_for(first.events, "parsed <pipe-a-2@example.test>")
        second.join(0.5)
        assert second.is_alive()  # waiting for the first batch
        assert first.events == ["parsed <pipe-a@example.test>", "parsed <pipe-a-2@example.test>"]
    finally:
        first.release.set()
        first.thread.join(20)
        second.join(20)
    assert first.events[-1] == "first batch committed"
    assert [email.message_id for email in done[0]] == ["<pipe-a-2@example.test>"]
    with tenant_context(acme.id):
        ticket = Ticket.objects.get()
        assert set(InboundEmail.objects.values_list("ticket_id", flat=True)) == {ticket.id}


@pytest.mark.django_db(transaction=True, databases=["default", "ops"])
def test_a_batch_rolled_back_before_it_joins_the_batch_that_waited_for_it(
    acme: TenantSetup, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first drain's batch fails (rolled back): the drain waiting for it takes its mail
    too, oldest first, so the reply still finds the ticket the first mail opens."""
    _opening_and_reply("pipe-b")
    first = _HeldBatch(acme, monkeypatch, fail=True)
    first.start()
    done: list[list[InboundEmail]] = []
    second = _second_drain(acme, done)
    second.start()
    _wait_for(first.events, "parsed <pipe-b-2@example.test>")
    first.release.set()
    first.thread.join(20)
    second.join(20)
    assert "first batch rolled back" in first.events
    assert [email.message_id for email in done[0]] == [
        "<pipe-b@example.test>",
        "<pipe-b-2@example.test>",
    ]
    with tenant_context(acme.id):
        ticket = Ticket.objects.get()
        assert set(InboundEmail.objects.values_list("ticket_id", flat=True)) == {ticket.id}
        assert set(InboundEmail.objects.values_list("status", flat=True)) == {"processed"}


@pytest.mark.django_db(transaction=True, databases=["default", "ops"])
def test_a_claim_lock_that_cannot_be_released_goes_with_its_connection(
    acme: TenantSetup, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The claim lock is a session lock: should releasing it fail, the drain's connection is
    closed, so no later claim of the tenant waits behind it."""
    store(build(subject="Claimed"))
    monkeypatch.setattr(inbound, "_CLAIM_UNLOCK", "SELECT no_such_function(%s)")
    with pytest.raises(Exception, match="no_such_function"), tenant_context(acme.id):
        inbound.process_batch(limit=10)
    free: list[bool] = []

    def try_claim_lock() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_try_advisory_lock(hashtextextended('inbound-claim:' || %s, 0))",
                    [str(acme.id)],
                )
                free.append(cursor.fetchone()[0])
        finally:
            connections.close_all()

    other = threading.Thread(target=try_claim_lock)
    other.start()
    other.join(10)
    assert free == [True]


def test_a_failing_set_based_write_leaves_the_batch_to_the_per_mail_path(
    acme: TenantSetup, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(**_: Any) -> None:
        raise ValueError("bulk insert refused")

    monkeypatch.setattr(ticket_batch, "store_email_batch", broken)
    store(build(subject="One", message_id="<fb1@example.test>"))
    store(build(subject="Re: One", body="again", In_Reply_To="<fb1@example.test>"))
    store(build(subject="Two", sender="Dan <dan@example.test>"))
    with tenant_context(acme.id):
        done = inbound.process_batch(limit=10)
        assert [e.status for e in done] == ["processed"] * 3
        assert [e.attempts for e in done] == [1, 1, 1]
        assert Ticket.objects.count() == 2
        assert done[1].ticket_id == done[0].ticket_id
        assert list(Ticket.objects.order_by("number").values_list("number", flat=True)) == [1, 2]


def test_mail_the_set_based_path_hands_over_keeps_its_place_in_the_batch(
    acme: TenantSetup,
) -> None:
    """A reply to a closed ticket (a follow-up, the per-mail path) between set-based mail:
    every mail lands where processing one at a time would put it, numbers in order."""
    store(build(subject="Old", message_id="<old@example.test>"))
    with tenant_context(acme.id):
        inbound.process_batch(limit=10)
        old = Ticket.objects.get()
        Ticket.objects.filter(id=old.id).update(status="closed")
    store(build(subject="New A", sender="Dan <dan@example.test>", message_id="<na@example.test>"))
    store(build(subject="Re: Old", body="still broken", In_Reply_To="<old@example.test>"))
    store(
        build(
            subject="Re: New A",
            body="more",
            In_Reply_To="<na@example.test>",
            sender="Dan <dan@example.test>",
        )
    )
    store(build(subject="New B", sender="Eve <eve@example.test>"))
    with tenant_context(acme.id):
        done = inbound.process_batch(limit=10)
        assert [e.status for e in done] == ["processed"] * 4
        numbers = [Ticket.objects.get(id=e.ticket_id).number for e in done if e.ticket_id]
        assert numbers == [2, 3, 2, 4]
        assert Ticket.objects.get(number=3).follow_up_of_id == old.id
        assert Message.objects.filter(ticket__number=2, kind="customer").count() == 2


def test_a_reply_in_the_batch_reopens_a_waiting_ticket_once(acme: TenantSetup) -> None:
    store(build(subject="Waiting", message_id="<w1@example.test>"))
    with tenant_context(acme.id):
        inbound.process_batch(limit=10)
        Ticket.objects.update(status="waiting")
    store(build(subject="Re: Waiting", body="one", In_Reply_To="<w1@example.test>"))
    store(build(subject="Re: Waiting", body="two", In_Reply_To="<w1@example.test>"))
    with tenant_context(acme.id):
        done = inbound.process_batch(limit=10)
        assert [e.status for e in done] == ["processed"] * 2
        ticket = Ticket.objects.get()
        assert ticket.status == "open"
        assert ticket.last_message_snippet == "two"
        assert Message.objects.filter(ticket=ticket, kind="event").count() == 1
