"""The public OpenAPI document: drawn up once per process for each form and language, the
same for every tenant and caller, an unknown language refused, strangers rate-limited."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.utils import translation
from drf_spectacular.generators import SchemaGenerator

from helpdesk.api import views
from helpdesk.api.throttling import PrincipalRateThrottle
from tests.conftest import TenantSetup

JSON = "application/vnd.oai.openapi+json"
YAML = "application/vnd.oai.openapi"


@pytest.fixture
def drafts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The languages the generator ran in, each time it ran; no document cached before."""
    ran: list[str] = []
    original = SchemaGenerator.get_schema

    def counted(self: SchemaGenerator, *args: Any, **kwargs: Any) -> Any:
        ran.append(translation.get_language())
        return original(self, *args, **kwargs)  # type: ignore[no-untyped-call]

    monkeypatch.setattr(SchemaGenerator, "get_schema", counted)
    monkeypatch.setattr(views, "_SCHEMA_DOCUMENTS", {})
    return ran


def _anonymous(setup: TenantSetup) -> Client:
    return Client(HTTP_HOST=setup.host)


def test_each_form_and_language_is_drawn_up_once(acme: TenantSetup, drafts: list[str]) -> None:
    client = _anonymous(acme)
    first = client.get("/api/schema/", HTTP_ACCEPT=YAML)
    again = client.get("/api/schema/", HTTP_ACCEPT=YAML)
    assert first.status_code == again.status_code == 200
    assert first.content == again.content
    assert first["Content-Type"].startswith(YAML)
    assert first["Content-Disposition"] == again["Content-Disposition"]
    assert first.content.startswith(b"openapi: 3")
    assert drafts == ["en"]

    as_json = client.get("/api/schema/", HTTP_ACCEPT=JSON)
    assert client.get("/api/schema/", HTTP_ACCEPT=JSON).content == as_json.content
    assert client.get("/api/schema/?format=json").json() == as_json.json()
    assert as_json.json()["info"]["title"] == "Help desk API"
    german = client.get("/api/schema/?lang=de", HTTP_ACCEPT=JSON)
    assert client.get("/api/schema/?lang=de-AT", HTTP_ACCEPT=JSON).content == german.content
    assert german.status_code == 200
    assert drafts == ["en", "en", "de"]


def test_the_document_is_the_same_for_every_tenant_and_caller(
    acme: TenantSetup, globex: TenantSetup, drafts: list[str]
) -> None:
    answers = [
        _anonymous(acme).get("/api/schema/", HTTP_ACCEPT=JSON),
        globex.api_client().get("/api/schema/", HTTP_ACCEPT=JSON),
        globex.client(globex.admin).get("/api/schema/", HTTP_ACCEPT=JSON),
    ]
    assert {answer.status_code for answer in answers} == {200}
    assert len({answer.content for answer in answers}) == 1
    for host in (acme.host, globex.host):
        assert host.encode() not in answers[0].content
    assert len(drafts) == 1


def test_accept_parameters_and_versions_make_no_new_document(
    acme: TenantSetup, drafts: list[str]
) -> None:
    client = _anonymous(acme)
    plain = client.get("/api/schema/", HTTP_ACCEPT=JSON).content
    for path, accept in (
        ("/api/schema/", f"{JSON}; indent=4"),
        ("/api/schema/", f"{JSON}; indent=1"),
        ("/api/schema/?version=v9", JSON),
    ):
        assert client.get(path, HTTP_ACCEPT=accept).content == plain, (path, accept)
    assert len(drafts) == 1
    assert len(views._SCHEMA_DOCUMENTS) == 1


@pytest.mark.parametrize("lang", ["zz", "klingon", "../en", "x" * 300])
def test_an_unknown_language_is_a_400_that_keeps_nothing(
    acme: TenantSetup, drafts: list[str], lang: str
) -> None:
    response = _anonymous(acme).get("/api/schema/", {"lang": lang}, HTTP_ACCEPT=JSON)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["fields"]["lang"] == ["Not a language of this help desk: use en, de."]
    assert drafts == []
    assert views._SCHEMA_DOCUMENTS == {}


def test_strangers_are_held_to_the_api_rate(
    acme: TenantSetup, drafts: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(PrincipalRateThrottle, "THROTTLE_RATES", {"principal": "3/minute"})
    stranger = Client(HTTP_HOST=acme.host, REMOTE_ADDR="203.0.113.7")
    codes = [stranger.get("/api/schema/", HTTP_ACCEPT=JSON).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    other = Client(HTTP_HOST=acme.host, REMOTE_ADDR="203.0.113.8")
    assert other.get("/api/schema/", HTTP_ACCEPT=JSON).status_code == 200
