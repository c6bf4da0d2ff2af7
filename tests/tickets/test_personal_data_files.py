"""Personal data, the heavy and the lingering parts: the export zip (admin page and the
customer's portal download) is built in a temporary file with each attachment copied in
chunks, so a contact's large attachments do not have to fit in memory; an erasure drops the
company link and leaves the audit log's entries in place but naming the person only as
"erased contact #<id>" (this tenant's entries, whole words, other people untouched)."""

from __future__ import annotations

import io
import json
import os
import re
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.test import Client

from helpdesk.mail.models import OutboundEmail
from helpdesk.tenancy import audit
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.models import AuditAction, AuditEvent, MembershipRole
from tests.conftest import TenantSetup
from tests.factories.accounts import make_member
from tests.factories.tickets import make_contact, make_ticket
from tickets.contacts import personal_data
from tickets.models import Attachment, Company, Contact, Message, MessageKind

BIG = 24 * 1024 * 1024


def _attach(message: Message, name: str, content: bytes) -> Attachment:
    return Attachment.objects.create(
        message=message,
        file=ContentFile(content, name="upload.bin"),
        filename=name,
        content_type="application/octet-stream",
        size=len(content),
    )


def _unzip(content: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert archive.testzip() is None
        return {name: archive.read(name) for name in archive.namelist()}


def test_a_large_export_is_built_on_disk_in_chunks(
    tenant: TenantSetup, settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    maria = make_contact(email="maria@example.test", name="Maria Rossi")
    ticket = make_ticket(subject="Scans", body="Attached.", contact=maria)
    first = Message.objects.get(ticket=ticket, kind=MessageKind.CUSTOMER)
    payload = os.urandom(BIG)  # incompressible: the zip is as big as the file
    _attach(first, "scan.tiff", payload)
    _attach(first, "../../etc/passwd", b"a name that tries to leave the folder")
    del payload
    monkeypatch.setattr(personal_data, "ZIP_SPOOL_BYTES", 1024 * 1024)
    tracemalloc.start()
    try:
        archive = personal_data.export_contact_zip(contact=maria, actor=tenant.admin)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    try:
        assert peak < BIG / 3, f"{peak} bytes at the peak for a {BIG} byte attachment"
        assert getattr(archive, "_rolled", True)  # past the spool size: on disk
        with zipfile.ZipFile(archive) as opened:
            names = opened.namelist()
            data = json.loads(opened.read("contact.json"))
            [big] = [n for n in names if n.endswith("/scan.tiff")]
            assert opened.getinfo(big).file_size == BIG
            assert opened.testzip() is None
    finally:
        archive.close()
    assert names[0] == "contact.json"
    assert all(re.fullmatch(r"attachments/[0-9a-f-]+/[\w.\- ]+", n) for n in names[1:])
    assert all(part not in {"", ".", ".."} for n in names for part in n.split("/"))
    assert len(data["tickets"][0]["messages"][0]["attachments"]) == 2
    assert AuditEvent.objects.get(action="contact.exported").details["form"] == "zip"


def test_the_admin_download_streams_the_zip_with_json_and_attachments(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    with tenant_context(acme.id):
        maria = make_contact(email="maria@example.test", name="Maria Rossi")
        ticket = make_ticket(subject="Invoice", body="See attached.", contact=maria)
        first = Message.objects.get(ticket=ticket, kind=MessageKind.CUSTOMER)
        _attach(first, "invoice.pdf", b"%PDF the invoice")
        agent = make_member(acme.tenant, MembershipRole.AGENT)
    download = acme.client(acme.admin).get(f"/contacts/{maria.id}/export/")
    assert download.status_code == 200
    assert download["Content-Type"] == "application/zip"
    assert download["Content-Disposition"] == f'attachment; filename="contact-{maria.id}.zip"'
    files = _unzip(b"".join(download.streaming_content))  # type: ignore[attr-defined]
    assert json.loads(files["contact.json"])["contact"]["email"] == "maria@example.test"
    [pdf] = [name for name in files if name.endswith("/invoice.pdf")]
    assert files[pdf] == b"%PDF the invoice"
    assert acme.client(agent).get(f"/contacts/{maria.id}/export/").status_code == 403
    assert globex.client(globex.admin).get(f"/contacts/{maria.id}/export/").status_code == 404
    assert acme.client(acme.admin).get("/contacts/not-a-uuid/export/").status_code == 404


def test_the_customer_downloads_a_zip_with_their_attachments(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        ada = make_contact(email="ada@example.com", name="Ada", notes="Shouts at agents")
        ticket = make_ticket(subject="Printer", body="Photo attached.", contact=ada)
        first = Message.objects.get(ticket=ticket, kind=MessageKind.CUSTOMER)
        _attach(first, "photo.jpg", b"\xff\xd8 a photo")
        bob = make_ticket(subject="Bob's", contact=make_contact(email="bob@example.com"))
        _attach(Message.objects.get(ticket=bob, kind=MessageKind.CUSTOMER), "bob.txt", b"bob")
    client = acme.client()
    client.post("/help/sign-in/", {"email": "ada@example.com"})
    with tenant_context(acme.id):
        mail = OutboundEmail.objects.filter(tags=["portal-sign-in"]).latest("created_at")
    link = re.search(r"http://acme\.localhost(/help/sign-in/[^/\s]+/)", mail.body_text)
    assert link is not None
    client.post(link.group(1))
    response = client.post("/help/my-data/")
    assert response.status_code == 200
    files = _unzip(b"".join(response.streaming_content))  # type: ignore[attr-defined]
    data = json.loads(files["my-data.json"])
    assert "notes" not in data["contact"]
    assert [name.rsplit("/", 1)[1] for name in files if name.startswith("attachments/")] == [
        "photo.jpg"
    ]
    assert b"bob" not in b"".join(files.values())
    with tenant_context(acme.id):
        entry = AuditEvent.objects.get(action="contact.exported")
    assert entry.details == {"tickets": 1, "form": "zip", "by": "the customer"}
    assert Client(HTTP_HOST=acme.host).post("/help/my-data/").status_code == 302


def test_erasure_scrubs_the_audit_log_and_drops_the_company(
    acme: TenantSetup, globex: TenantSetup
) -> None:
    with tenant_context(acme.id):
        company = Company.objects.create(name="Rossi Printing")
        maria = make_contact(email="Maria.Rossi@example.test", name="Maria Rossi", company=company)
        make_ticket(subject="Hello", contact=maria)
        marker = f"erased contact #{maria.id}"
        failed = audit.record_audit_event(
            action=AuditAction.SIGN_IN_FAILED,
            actor=None,
            actor_email="maria.rossi@example.test",
            details={"reason": "no seat"},
        )
        rule = audit.record_settings_change(
            actor=acme.admin,
            what="rule",
            label="VIP: Maria Rossi",
            details={"note": "Mail from MARIA.ROSSI@example.test first", "list": ["Maria Rossi"]},
        )
        other_person = audit.record_settings_change(
            actor=acme.admin, what="rule", label="VIP: Maria Rossini"
        )
    with tenant_context(globex.id):
        theirs = audit.record_settings_change(
            actor=globex.admin, what="rule", label="maria.rossi@example.test"
        )
    erased = acme.api_client().post(f"/api/v1/contacts/{maria.id}/erase/")
    assert erased.status_code == 200, erased.content
    assert erased.json()["audit_entries"] == 2
    with tenant_context(acme.id):
        failed.refresh_from_db()
        rule.refresh_from_db()
        other_person.refresh_from_db()
        assert failed.actor_email == marker
        assert failed.action == "sign_in.failed"  # the entry stays, with its what and when
        assert rule.target_label == f"VIP: {marker}"
        assert rule.details == {
            "change": "saved",
            "note": f"Mail from {marker} first",
            "list": [marker],
        }
        assert rule.actor_id == acme.admin.id
        assert other_person.target_label == "VIP: Maria Rossini"  # another person
        rest = AuditEvent.objects.exclude(id=other_person.id)
        text = json.dumps(list(rest.values("actor_email", "target_label", "details")), default=str)
        assert "maria" not in text.lower()
        assert Contact.objects.get(id=maria.id).company_id is None
        assert Company.objects.filter(id=company.id).exists()  # the company itself stays
    with tenant_context(globex.id):
        theirs.refresh_from_db()
        assert theirs.target_label == "maria.rossi@example.test"  # another tenant's log


def test_a_refused_erasure_changes_nothing_in_the_log(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        maria = make_contact(email="maria@example.test", name="Maria Rossi")
        entry = audit.record_settings_change(actor=acme.admin, what="rule", label="Maria Rossi")
        agent = make_member(acme.tenant, MembershipRole.AGENT)
    assert acme.api_client(agent).post(f"/api/v1/contacts/{maria.id}/erase/").status_code == 403
    assert acme.client(agent).post(f"/contacts/{maria.id}/erase/").status_code == 403
    with tenant_context(acme.id):
        entry.refresh_from_db()
        assert entry.target_label == "Maria Rossi"


def test_short_names_and_nothing_to_scrub(tenant: TenantSetup) -> None:
    entry = audit.record_settings_change(actor=tenant.admin, what="rule", label="Al's rule")
    assert audit.scrub_personal_values(emails=[], names=["Al"], replacement="x") == 0
    assert audit.scrub_personal_values(emails=[" "], names=[""], replacement="x") == 0
    entry.refresh_from_db()
    assert entry.target_label == "Al's rule"
