"""helpdesk.core.outbound_http: every address checked, the connection pinned to a checked
address (DNS rebinding gets nowhere), redirects to private addresses refused, HTTPS still
verified against the host name, and the operator's switch under both its names."""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from pytest_django import Settings as SettingsWrapper

from helpdesk.core import outbound_http
from helpdesk.core.outbound_http import OutboundHostNotFound, OutboundTargetRefused
from tests.automation.http_peer import running


@dataclass
class Server:
    port: int
    redirect_to: str = ""
    hosts: list[str] = field(default_factory=list)


@contextmanager
def serve(context: ssl.SSLContext | None = None) -> Iterator[Server]:
    """An HTTP(S) server on 127.0.0.1 that records each request's Host header and answers
    `ok`, or a redirect when the test sets one."""
    state = Server(port=0)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.hosts.append(self.headers.get("Host", ""))
            if state.redirect_to:
                self.send_response(302)
                self.send_header("Location", state.redirect_to)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    state.port = server.server_address[1]
    with running(server):
        yield state


def answers(monkeypatch: pytest.MonkeyPatch, table: dict[str, list[list[str]]]) -> list[str]:
    """A resolver: each name answers its lists in turn (the last one again), an IP literal
    itself; the names asked are returned in the order they were asked."""
    asked: list[str] = []

    def fake_getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        asked.append(host)
        try:
            ipaddress.ip_address(host)
        except ValueError:
            pass
        else:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (host, port))]
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "not known")
        turns = table[host]
        addresses = turns.pop(0) if len(turns) > 1 else turns[0]
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)) for address in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    return asked


@pytest.fixture
def strict(settings: SettingsWrapper) -> None:
    settings.HELPDESK_OUTBOUND_ALLOW_PRIVATE_HOSTS = False
    settings.HELPDESK_WEBHOOK_ALLOW_PRIVATE_HOSTS = False


@pytest.fixture
def loopback_counts_as_public(strict: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The test machine has no public server: 127.0.0.1 stands in for one, every other
    address is judged as in production."""
    judge = outbound_http.is_public
    monkeypatch.setattr(
        outbound_http, "is_public", lambda address: address == "127.0.0.1" or judge(address)
    )


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.9",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # shared address space
        "0.0.0.0",  # noqa: S104 - an address to refuse, not to bind
        "224.0.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        # IPv6 standing for a private IPv4 address, reached through a translator
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "64:ff9b:1::a00:1",  # local-use NAT64 of 10.0.0.1
        "::ffff:0:7f00:1",  # IPv4-translated 127.0.0.1
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
    ],
)
def test_non_public_addresses_are_refused(
    strict: None, monkeypatch: pytest.MonkeyPatch, address: str
) -> None:
    answers(monkeypatch, {"idp.example.test": [[address]]})
    with pytest.raises(OutboundTargetRefused) as refused:
        outbound_http.check_url("https://idp.example.test/")
    assert "HELPDESK_OUTBOUND_ALLOW_PRIVATE_HOSTS" in str(refused.value)
    with pytest.raises(OutboundTargetRefused), outbound_http.session() as client:
        client.get("https://idp.example.test/", timeout=2)


def test_ipv6_standing_for_a_public_ipv4_address_passes() -> None:
    assert outbound_http.is_public("64:ff9b::808:808")  # NAT64 of 8.8.8.8
    assert outbound_http.is_public("2002:808:808::1")  # 6to4 of 8.8.8.8


def test_public_addresses_pass(strict: None, monkeypatch: pytest.MonkeyPatch) -> None:
    answers(monkeypatch, {"idp.example.test": [["93.184.215.14", "2606:2800:21f:cb07::1"]]})
    assert outbound_http.check_url("https://idp.example.test:8443/x") == [
        "93.184.215.14",
        "2606:2800:21f:cb07::1",
    ]


def test_bad_urls_and_unknown_hosts(strict: None, monkeypatch: pytest.MonkeyPatch) -> None:
    answers(monkeypatch, {})
    for url in ["ftp://example.test/", "https:///x", "https://example.test:99999/", "x"]:
        with pytest.raises(OutboundHostNotFound):
            outbound_http.check_url(url)
    with pytest.raises(OutboundHostNotFound, match="cannot be found"):
        outbound_http.check_url("https://nowhere.example.test/")


def test_one_private_answer_among_public_ones_is_refused_before_connecting(
    strict: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve() as server:
        answers(monkeypatch, {"mixed.example.test": [["93.184.215.14", "127.0.0.1"]]})
        with pytest.raises(OutboundTargetRefused), outbound_http.session() as client:
            client.get(f"http://mixed.example.test:{server.port}/", timeout=2)
        assert server.hosts == []


def test_rebinding_connects_to_the_checked_address(
    loopback_counts_as_public: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The resolver answers a (stand-in) public address to the check and a private one
    after it: the name is asked once and the connection goes to the checked address,
    with the name in the Host header."""
    with serve() as server:
        asked = answers(monkeypatch, {"idp.example.test": [["127.0.0.1"], ["10.255.255.1"]]})
        with outbound_http.session() as client:
            response = client.get(f"http://idp.example.test:{server.port}/x", timeout=5)
        assert response.status_code == 200
        assert response.text == "ok"
        assert asked == ["idp.example.test"]
        assert server.hosts == [f"idp.example.test:{server.port}"]


def test_the_second_request_is_checked_again(
    loopback_counts_as_public: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A session keeps no stale answer: the next request resolves and checks again, and a
    name that now answers a private address is refused."""
    with serve() as server:
        answers(monkeypatch, {"idp.example.test": [["127.0.0.1"], ["10.255.255.1"]]})
        with outbound_http.session() as client:
            url = f"http://idp.example.test:{server.port}/x"
            assert client.get(url, timeout=5).status_code == 200
            with pytest.raises(OutboundTargetRefused):
                client.get(url, timeout=5)
        assert len(server.hosts) == 1


def test_redirects_are_not_followed_by_default(
    loopback_counts_as_public: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve() as server:
        server.redirect_to = "http://internal.example.test/admin"
        answers(monkeypatch, {"idp.example.test": [["127.0.0.1"]]})
        with outbound_http.session() as client:
            url = f"http://idp.example.test:{server.port}/"
            assert client.get(url, timeout=5, allow_redirects=False).status_code == 302
            assert client.get(url, timeout=5).status_code == 302
        assert len(server.hosts) == 2


def test_a_redirect_to_a_private_address_is_refused(
    loopback_counts_as_public: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve() as server:
        server.redirect_to = "http://internal.example.test/admin"
        answers(
            monkeypatch,
            {"idp.example.test": [["127.0.0.1"]], "internal.example.test": [["10.0.0.7"]]},
        )
        with pytest.raises(OutboundTargetRefused), outbound_http.session(max_redirects=3) as c:
            c.get(f"http://idp.example.test:{server.port}/", timeout=5)
        # A redirect straight to a loopback or link-local literal, likewise.
        server.redirect_to = "http://169.254.169.254/latest/meta-data/"
        with pytest.raises(OutboundTargetRefused), outbound_http.session(max_redirects=3) as c:
            c.get(f"http://idp.example.test:{server.port}/", timeout=5)
        assert len(server.hosts) == 2


def test_https_is_verified_against_the_name_not_the_address(
    loopback_counts_as_public: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """Pinned to 127.0.0.1, TLS still sends the name (SNI) and checks the certificate
    against it: a certificate for the name passes, one for another name fails."""
    trustme = pytest.importorskip("trustme")
    authority = trustme.CA()
    bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("idp.example.test").configure_cert(context)
    names: list[str | None] = []
    context.sni_callback = lambda sock, name, ctx: names.append(name)
    with serve(context) as server:
        answers(
            monkeypatch,
            {"idp.example.test": [["127.0.0.1"]], "other.example.test": [["127.0.0.1"]]},
        )
        with outbound_http.session() as client:
            ok = client.get(
                f"https://idp.example.test:{server.port}/", timeout=5, verify=str(bundle)
            )
            assert ok.text == "ok"
            with pytest.raises(requests.exceptions.SSLError):
                client.get(
                    f"https://other.example.test:{server.port}/", timeout=5, verify=str(bundle)
                )
        assert names[0] == "idp.example.test"
        assert server.hosts == [f"idp.example.test:{server.port}"]


def test_the_operator_allows_private_hosts_under_either_name(
    settings: SettingsWrapper, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers(monkeypatch, {"intranet.example.test": [["10.0.0.7"]]})
    settings.HELPDESK_OUTBOUND_ALLOW_PRIVATE_HOSTS = False
    settings.HELPDESK_WEBHOOK_ALLOW_PRIVATE_HOSTS = False
    with pytest.raises(OutboundTargetRefused):
        outbound_http.check_url("https://intranet.example.test/")
    settings.HELPDESK_OUTBOUND_ALLOW_PRIVATE_HOSTS = True
    assert outbound_http.check_url("https://intranet.example.test/") == ["10.0.0.7"]
    settings.HELPDESK_OUTBOUND_ALLOW_PRIVATE_HOSTS = False
    settings.HELPDESK_WEBHOOK_ALLOW_PRIVATE_HOSTS = True  # deprecated name, still honoured
    assert outbound_http.check_url("https://intranet.example.test/") == ["10.0.0.7"]


def test_environment_proxies_are_ignored(
    loopback_counts_as_public: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proxy would connect to the name itself; the session never uses one."""
    monkeypatch.setenv("HTTP_PROXY", "http://10.0.0.1:3128")
    with serve() as server:
        answers(monkeypatch, {"idp.example.test": [["127.0.0.1"]]})
        with outbound_http.session() as client:
            assert client.get(f"http://idp.example.test:{server.port}/", timeout=5).ok
