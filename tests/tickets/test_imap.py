"""IMAP polling against a real Dovecot on loopback: new mail becomes tickets, only new UIDs
are fetched, and mail is flagged or moved on the server only after its row is committed."""

from __future__ import annotations

import contextlib
import functools
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from django.core.cache import cache
from pytest_django import Settings

from departments.models import Mailbox
from helpdesk.core.crypto import encrypt
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import InboundAddress, MembershipRole
from tests.conftest import TenantSetup, make_tenant
from tests.dovecot import LEGACY_USER, Dovecot, dovecot, loopback_imap_allowed  # noqa: F401
from tests.factories.accounts import make_member
from tickets.mail_in import imap, imap_client
from tickets.mail_in import tasks as mail_in_tasks
from tickets.models import InboundEmail, Ticket

pytestmark = pytest.mark.django_db(transaction=True)

SEEN = "\\Seen"


class RollBack(Exception):
    pass


@pytest.fixture(autouse=True)
def _loopback(loopback_imap_allowed: None) -> None:  # noqa: F811
    """Every test here talks to a server on 127.0.0.1 (one test checks the refusal)."""


@pytest.fixture
def server(dovecot: Dovecot) -> Dovecot:  # noqa: F811
    """The session's Dovecot with both accounts emptied."""
    for user in (dovecot.user, LEGACY_USER):
        dovecot.as_user(user).clear()
    return dovecot


@pytest.fixture
def acme(server: Dovecot) -> TenantSetup:
    """Tenant A whose default mailbox polls the Dovecot account."""
    setup = make_tenant("acme", "Acme")
    configure(setup, server)
    return setup


def configure(setup: TenantSetup, server: Dovecot, **changes: object) -> None:
    values = {
        "imap_enabled": True,
        "imap_host": server.host,
        "imap_port": server.port,
        "imap_security": "none",
        "imap_username": server.user,
        "imap_password_encrypted": encrypt(server.password),
        **changes,
    }
    with tenant_context(setup.id):
        Mailbox.objects.filter(id=setup.mailbox.id).update(**values)


def mailbox(setup: TenantSetup) -> Mailbox:
    with tenant_context(setup.id):
        return Mailbox.objects.get(id=setup.mailbox.id)


def poll(setup: TenantSetup, **options: int) -> imap.PollResult:
    with tenant_context(setup.id):
        return imap.poll_mailbox(mailbox=Mailbox.objects.get(id=setup.mailbox.id), **options)


def poll_then_fail(setup: TenantSetup) -> None:
    """Poll, then fail before the tenant transaction commits."""
    with tenant_context(setup.id):
        imap.poll_mailbox(mailbox=Mailbox.objects.get(id=setup.mailbox.id))
        raise RollBack


def build(subject: str = "Printer on fire", message_id: str = "") -> bytes:
    message = EmailMessage()
    message["From"] = "Carla <carla@example.test>"
    message["To"] = "support@acme.localhost"
    message["Subject"] = subject
    message["Message-ID"] = message_id or make_msgid(domain="example.test")
    message.set_content("Help!")
    return message.as_bytes()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def fake_imap_server(*, capabilities: str) -> Iterator[tuple[int, list[bytes]]]:
    """A loopback IMAP server that greets, answers CAPABILITY and records every line."""
    listener = socket.create_server(("127.0.0.1", 0))
    received: list[bytes] = []

    def serve() -> None:
        connection, _ = listener.accept()
        with connection, connection.makefile("rwb") as stream:
            stream.write(b"* OK ready\r\n")
            stream.flush()
            for line in stream:
                received.append(line)
                tag, _, command = line.decode().partition(" ")
                if command.strip().upper() == "CAPABILITY":
                    stream.write(f"* CAPABILITY {capabilities}\r\n{tag} OK done\r\n".encode())
                elif command.strip().upper() == "LOGOUT":
                    stream.write(f"* BYE\r\n{tag} OK bye\r\n".encode())
                else:
                    stream.write(f"{tag} BAD not here\r\n".encode())
                stream.flush()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], received
    finally:
        listener.close()
        thread.join(5)


def polling_session(server: Dovecot, *, after: int) -> dict[str, int]:
    """The counters of the first session after `after` that fetched mail (the poller's)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        fetched = [stats for stats in server.sessions()[after:] if stats.get("body_count")]
        if fetched:
            return fetched[0]
        time.sleep(0.05)
    raise AssertionError("Dovecot logged no session that fetched mail")


def subjects(setup: TenantSetup) -> list[str]:
    with tenant_context(setup.id):
        return sorted(Ticket.objects.values_list("subject", flat=True))


def test_new_mail_becomes_tickets_and_is_flagged_seen(acme: TenantSetup, server: Dovecot) -> None:
    first = server.append(build("Printer on fire"))
    second = server.append(build("Coffee machine broken"))

    result = poll(acme)

    assert result == imap.PollResult(fetched=2, stored=2, error="")
    assert subjects(acme) == ["Coffee machine broken", "Printer on fire"]
    with tenant_context(acme.id):
        assert set(InboundEmail.objects.values_list("channel", "status")) == {("imap", "processed")}
    assert all(SEEN in flags for flags in server.messages().values())
    polled = mailbox(acme)
    assert polled.imap_uid_validity == server.uid_validity()
    assert polled.imap_last_uid == max(first, second)
    assert polled.imap_last_error == ""
    assert polled.imap_last_polled_at is not None


def test_second_poll_fetches_only_new_mail(acme: TenantSetup, server: Dovecot) -> None:
    server.append(build("Printer on fire"))
    poll(acme)

    assert poll(acme) == imap.PollResult(fetched=0, stored=0, error="")

    newest = server.append(build("Coffee machine broken"))
    assert poll(acme) == imap.PollResult(fetched=1, stored=1, error="")
    assert mailbox(acme).imap_last_uid == newest
    assert subjects(acme) == ["Coffee machine broken", "Printer on fire"]


def test_mail_is_flagged_only_after_the_commit(acme: TenantSetup, server: Dovecot) -> None:
    uid = server.append(build())
    with tenant_context(acme.id):
        imap.poll_mailbox(mailbox=Mailbox.objects.get(id=acme.mailbox.id))
        assert SEEN not in server.messages()[uid]  # stored, but not committed yet
    assert SEEN in server.messages()[uid]


def test_rolled_back_poll_leaves_mail_untouched_and_is_fetched_again(
    acme: TenantSetup, server: Dovecot
) -> None:
    uid = server.append(build())
    with pytest.raises(RollBack):
        poll_then_fail(acme)

    assert SEEN not in server.messages()[uid]
    assert subjects(acme) == []
    assert poll(acme) == imap.PollResult(fetched=1, stored=1, error="")
    assert SEEN in server.messages()[uid]


def test_stored_mail_is_moved_to_the_archive_folder(acme: TenantSetup, server: Dovecot) -> None:
    server.append(build("Already archived"), folder="Handled mail", flags=SEEN)
    configure(acme, server, imap_archive_folder="Handled mail")
    server.append(build("Printer on fire"))
    sessions = len(server.sessions())

    assert poll(acme).stored == 1

    assert server.messages() == {}
    assert len(server.messages("Handled mail")) == 2
    assert mailbox(acme).imap_last_error == ""
    assert polling_session(server, after=sessions)["deleted"] == 0  # one MOVE, no \Deleted


def test_archive_without_move_falls_back_to_copy_delete_expunge(
    acme: TenantSetup, server: Dovecot
) -> None:
    legacy = server.as_user(LEGACY_USER)
    legacy.append(build("Old"), folder="Archive", flags=SEEN)
    configure(acme, legacy, imap_archive_folder="Archive")
    legacy.append(build("Printer on fire"))
    sessions = len(legacy.sessions())

    assert poll(acme).stored == 1

    assert legacy.messages() == {}
    assert len(legacy.messages("Archive")) == 2
    assert mailbox(acme).imap_last_error == ""
    stats = polling_session(legacy, after=sessions)
    assert (stats["deleted"], stats["expunged"]) == (1, 1)  # COPY, STORE \Deleted, EXPUNGE


@pytest.mark.parametrize("user", ["support", LEGACY_USER])
def test_missing_archive_folder_keeps_the_mail_and_records_why(
    acme: TenantSetup, server: Dovecot, user: str
) -> None:
    server = server.as_user(user)  # LEGACY_USER: no MOVE, so COPY fails before any delete
    configure(acme, server, imap_archive_folder="Nowhere")
    uid = server.append(build())

    assert poll(acme).stored == 1

    assert uid in server.messages()
    assert "\\Deleted" not in server.messages()[uid]
    assert "could not move them to 'Nowhere'" in mailbox(acme).imap_last_error
    assert poll(acme).fetched == 0  # tracked by UID: not stored twice


def test_wrong_password_records_the_error_and_stores_nothing(
    acme: TenantSetup, server: Dovecot
) -> None:
    configure(acme, server, imap_password_encrypted=encrypt("wrong"))
    uid = server.append(build())

    result = poll(acme)

    assert result.fetched == result.stored == 0
    assert result.error.startswith("login failed for 'support'")
    polled = mailbox(acme)
    assert polled.imap_last_error == result.error
    assert polled.imap_last_polled_at is not None
    assert subjects(acme) == []
    assert SEEN not in server.messages()[uid]


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"imap_folder": "No such folder"}, "cannot open folder 'No such folder'"),
        ({"imap_password_encrypted": "not-a-fernet-token"}, "cannot decrypt the IMAP password"),
        ({"imap_host": ""}, "no IMAP server is set"),
    ],
)
def test_settings_problems_are_recorded_not_raised(
    acme: TenantSetup, server: Dovecot, changes: dict[str, str], error: str
) -> None:
    configure(acme, server, **changes)
    server.append(build())

    assert poll(acme).error.startswith(error)
    assert mailbox(acme).imap_last_error.startswith(error)
    assert subjects(acme) == []


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_mail_is_polled_over_tls(
    acme: TenantSetup, server: Dovecot, security: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """STARTTLS on the plain port, or SSL/TLS from the start on the other; the server's
    certificate is checked against the trusted CAs (SSL_CERT_FILE: the test server's)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(server.ca_file))
    port = server.tls_port if security == "ssl" else server.port
    configure(acme, server, imap_security=security, imap_port=port)
    server.append(build("Over TLS"))

    assert poll(acme) == imap.PollResult(fetched=1, stored=1)
    assert subjects(acme) == ["Over TLS"]
    log = (server.root / "dovecot.log").read_text(errors="replace")
    logins = [line for line in log.splitlines() if "Login: user=<support>" in line]
    assert ", TLS" in logins[-1]  # Dovecot logs how the session logged in


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_an_untrusted_certificate_gets_no_password(
    acme: TenantSetup, server: Dovecot, security: str
) -> None:
    port = server.tls_port if security == "ssl" else server.port
    configure(acme, server, imap_security=security, imap_port=port)

    error = poll(acme).error

    assert error.endswith("certificate not trusted (self-signed certificate)"), error
    assert subjects(acme) == []


def test_starttls_is_required_when_chosen(acme: TenantSetup, server: Dovecot) -> None:
    """A server that does not offer STARTTLS (or a man in the middle stripping it) is never
    sent the password in clear text."""
    with fake_imap_server(capabilities="IMAP4rev1 AUTH=PLAIN") as (port, received):
        configure(acme, server, imap_security="starttls", imap_port=port)
        error = poll(acme).error

    assert error == f"127.0.0.1:{port} does not offer STARTTLS; the password was not sent"
    assert not any(b"LOGIN" in line.upper() for line in received)


def test_refused_connection_is_recorded(acme: TenantSetup, server: Dovecot) -> None:
    configure(acme, server, imap_port=closed_port())

    assert poll(acme).error.startswith(f"cannot connect to 127.0.0.1:{mailbox(acme).imap_port}")


def test_error_is_cleared_by_the_next_good_poll(acme: TenantSetup, server: Dovecot) -> None:
    configure(acme, server, imap_password_encrypted=encrypt("wrong"))
    poll(acme)
    configure(acme, server)

    assert poll(acme).error == ""
    assert mailbox(acme).imap_last_error == ""


def test_same_message_appended_twice_is_stored_once(acme: TenantSetup, server: Dovecot) -> None:
    raw = build(message_id="<same@example.test>")
    server.append(raw)
    server.append(raw)

    assert poll(acme) == imap.PollResult(fetched=2, stored=1, error="")

    with tenant_context(acme.id):
        assert InboundEmail.objects.count() == 1
        assert Ticket.objects.count() == 1
    assert all(SEEN in flags for flags in server.messages().values())


def test_first_poll_skips_mail_already_read_there(acme: TenantSetup, server: Dovecot) -> None:
    server.append(build("Read long ago"), flags=SEEN)
    unseen = server.append(build("Printer on fire"))
    server.append(build("Also read"), flags=SEEN)

    assert poll(acme).fetched == 1
    assert poll(acme).fetched == 0  # the seen mail above the unseen one stays out too

    assert subjects(acme) == ["Printer on fire"]
    assert mailbox(acme).imap_last_uid > unseen


def test_changed_uid_validity_refetches_unseen_mail_only(
    acme: TenantSetup, server: Dovecot
) -> None:
    configure(acme, server, imap_folder="Support")
    server.append(build("Printer on fire", message_id="<first@example.test>"), folder="Support")
    poll(acme)
    before = mailbox(acme)
    # Recreating the folder gives it a new UIDVALIDITY and restarts its UIDs at 1.
    server.delete_folder("Support")
    server.append(build("Read elsewhere"), folder="Support", flags=SEEN)
    server.append(build("Printer on fire", message_id="<first@example.test>"), folder="Support")
    server.append(build("Coffee machine broken"), folder="Support")
    assert server.uid_validity("Support") != before.imap_uid_validity
    assert max(server.messages("Support")) <= before.imap_last_uid + 2

    assert poll(acme) == imap.PollResult(fetched=2, stored=1, error="")

    after = mailbox(acme)
    assert after.imap_uid_validity == server.uid_validity("Support")
    assert after.imap_last_uid == max(server.messages("Support"))
    assert subjects(acme) == ["Coffee machine broken", "Printer on fire"]
    assert all(SEEN in flags for flags in server.messages("Support").values())


def test_a_batch_stops_early_and_the_next_poll_continues(
    acme: TenantSetup, server: Dovecot
) -> None:
    for number in range(3):
        server.append(build(f"Unseen {number}"))

    assert poll(acme, batch_size=2) == imap.PollResult(fetched=2, stored=2)
    assert mailbox(acme).imap_uid_validity is None  # the unseen pass is not finished
    assert poll(acme, batch_size=2) == imap.PollResult(fetched=1, stored=1)
    assert mailbox(acme).imap_uid_validity == server.uid_validity()

    for number in range(3):
        server.append(build(f"New {number}"))
    assert poll(acme, batch_size=2) == imap.PollResult(fetched=2, stored=2)
    assert poll(acme, batch_size=2) == imap.PollResult(fetched=1, stored=1)
    assert len(subjects(acme)) == 6
    assert all(SEEN in flags for flags in server.messages().values())


def test_a_stale_cached_address_does_not_stop_the_poll(acme: TenantSetup, server: Dovecot) -> None:
    """The poll reads its mailbox's address row itself: intake's cache may still hold the
    answer of a tenant that had this address before (here: a mailbox that is gone)."""
    key = tenancy_selectors.inbound_address_key(acme.mailbox.address)
    cache.set(key, (str(uuid.uuid4()), str(uuid.uuid4())), 60)
    server.append(build())

    assert poll(acme) == imap.PollResult(fetched=1, stored=1)


def test_a_mailbox_without_its_address_row_is_not_polled(
    acme: TenantSetup, server: Dovecot
) -> None:
    with tenant_context(acme.id):
        InboundAddress.objects.filter(address=acme.mailbox.address).delete()
    server.append(build())

    result = poll(acme)

    assert (result.fetched, result.error) == (
        0,
        f"{acme.mailbox.address} is not registered as an inbound address",
    )
    assert mailbox(acme).imap_last_error == result.error
    assert all(SEEN not in flags for flags in server.messages().values())


def test_check_imap_settings(server: Dovecot) -> None:
    check = functools.partial(
        imap_client.check_settings,
        host=server.host,
        port=server.port,
        security="none",
        username=server.user,
        password=server.password,
        folder="INBOX",
    )
    server.append(build(), folder="Archive")

    assert check() == ""
    assert check(archive_folder="Archive") == ""
    assert check(password="wrong").startswith("login failed")
    assert check(archive_folder="Nope").startswith("cannot open archive folder 'Nope'")
    assert check(port=closed_port()).startswith("cannot connect")
    assert all(SEEN not in flags for flags in server.messages("Archive").values())


def test_admin_tests_the_connection_before_saving(acme: TenantSetup, server: Dovecot) -> None:
    """*Test connection* on the mailbox page: the settings as typed (an empty password means
    the stored one); nothing is polled or saved."""
    client = acme.client(acme.admin)
    url = f"/settings/mailboxes/{acme.mailbox.id}/imap-check/"
    typed = {
        "imap_host": server.host,
        "imap_port": str(server.port),
        "imap_security": "none",
        "imap_username": server.user,
        "imap_password": "",
        "imap_folder": "INBOX",
    }
    uid = server.append(build())

    good = client.post(url, typed, HTTP_HX_REQUEST="true")
    wrong = client.post(url, {**typed, "imap_password": "wrong"}, HTTP_HX_REQUEST="true")
    unsaved = client.post(
        "/settings/mailboxes/imap-check/", {**typed, "imap_password": server.password}
    )
    invalid = client.post(url, {**typed, "imap_port": "0"})

    assert good.status_code == 200
    assert "Connected to 127.0.0.1: logged in and opened INBOX." in good.content.decode()
    assert "Connection failed: login failed for &#x27;support&#x27;" in wrong.content.decode()
    assert "Connected to 127.0.0.1" in unsaved.content.decode()  # a new mailbox's form
    assert invalid.status_code == 400
    assert "imap_port" in invalid.content.decode()
    assert subjects(acme) == []
    assert SEEN not in server.messages()[uid]
    assert mailbox(acme).imap_last_polled_at is None


def test_connection_test_is_admin_only_and_per_tenant(acme: TenantSetup, server: Dovecot) -> None:
    globex = make_tenant("globex", "Globex")
    agent = make_member(acme.tenant, MembershipRole.AGENT)
    url = f"/settings/mailboxes/{acme.mailbox.id}/imap-check/"
    assert acme.client(agent).post(url, {}).status_code == 403
    foreign = acme.client(acme.admin).post(f"/settings/mailboxes/{globex.mailbox.id}/imap-check/")
    assert foreign.status_code == 404
    api = acme.api_client()
    assert api.post(f"/api/v1/mailboxes/{globex.mailbox.id}/check-imap/").status_code == 404


def test_connection_test_through_the_api(acme: TenantSetup, server: Dovecot) -> None:
    api = acme.api_client()
    url = f"/api/v1/mailboxes/{acme.mailbox.id}/check-imap/"

    assert api.post(url).json() == {"ok": True, "error": ""}
    configure(acme, server, imap_password_encrypted=encrypt("wrong"))
    failed = api.post(url).json()
    assert failed["ok"] is False
    assert failed["error"].startswith("login failed for 'support'")
    assert mailbox(acme).imap_last_error == ""  # a check is not a poll


@pytest.mark.django_db(transaction=True, databases=["default", "ops"])
def test_beat_task_polls_every_tenant_with_imap_mailboxes(
    acme: TenantSetup, server: Dovecot
) -> None:
    """The periodic task finds tenants with IMAP mailboxes and polls each of them."""

    server.append(build(subject="From the beat", message_id=make_msgid()))
    other = make_tenant("globex", "Globex")  # no IMAP mailbox: never polled
    assert mail_in_tasks.poll_imap_mailboxes.apply().get() == 1
    with tenant_context(acme.id):
        assert Ticket.objects.get().subject == "From the beat"
    with tenant_context(other.id):
        assert not InboundEmail.objects.exists()
    assert server.messages()
    assert all(SEEN in flags for flags in server.messages().values())


def test_connection_failures_are_worded_for_the_admin() -> None:
    """Not "cannot connect to no-such-host.invalid:993: -2" but what it means."""

    def failure(host: str, port: int) -> str:
        return imap_client.check_settings(
            host=host, port=port, security="none", username="u", password="p", folder="INBOX"
        )

    assert failure("no-such-host.invalid", 993).endswith("no such host (the name does not resolve)")
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed_port = unused.getsockname()[1]
    assert failure("127.0.0.1", closed_port).endswith(
        "connection refused (nothing listens on that port)"
    )


def test_a_service_that_is_not_imap_is_named_so_without_its_banner() -> None:
    """Tenant admins choose the host and port: what another service there says is not
    shown back (it would map and fingerprint services reachable from the help desk)."""
    import threading

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]

        def greet() -> None:
            connection, _ = listener.accept()
            with connection:
                connection.sendall(b"SSH-2.0-internal-service secret-banner\r\n")
                connection.recv(100)

        threading.Thread(target=greet, daemon=True).start()
        problem = imap_client.check_settings(
            host="127.0.0.1", port=port, security="none", username="u", password="p", folder="INBOX"
        )
    assert problem == f"127.0.0.1:{port} answered, but not as an IMAP server (wrong port?)"
    assert "secret-banner" not in problem


def test_a_private_or_local_imap_host_is_refused_unless_the_operator_allows_it(
    settings: Settings,
) -> None:
    settings.HELPDESK_IMAP_ALLOW_PRIVATE_HOSTS = False
    for host in ("127.0.0.1", "localhost", "10.0.0.5", "169.254.169.254", "::1"):
        problem = imap_client.check_settings(
            host=host, port=993, security="ssl", username="u", password="p", folder="INBOX"
        )
        assert problem.startswith(f"{host} is a private or local address"), problem
        assert "HELPDESK_IMAP_ALLOW_PRIVATE_HOSTS=1" in problem
