"""Attachment files with no row (a rolled-back transaction wrote them) are cleaned up daily."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from pytest_django import Settings

from helpdesk.core.ids import new_id
from helpdesk.tenancy.context import tenant_context
from tests.conftest import TenantSetup
from tests.factories.tickets import make_ticket
from tickets.models import Attachment, attachment_folder
from tickets.ticket import services
from tickets.ticket import tasks as ticket_tasks

DAY = 24 * 3600


def _age(name: str, seconds: float) -> None:
    stamp = time.time() - seconds
    os.utime(default_storage.path(name), (stamp, stamp))


def _with_attachment(filename: str) -> Attachment:
    content = services.MessageContent(
        attachments=[
            services.NewAttachment(
                filename=filename, content_type="application/pdf", payload=b"%PDF-1.4 invoice"
            )
        ]
    )
    ticket = make_ticket(content=content)
    return Attachment.objects.get(message__ticket=ticket)


@transaction.atomic
def _store_then_fail() -> None:
    """Processing that stored an attachment and then failed: its transaction rolls back."""
    _with_attachment("lost.pdf")
    raise RuntimeError("processing failed")


@pytest.fixture
def media(settings: Settings, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


def test_files_of_a_rolled_back_transaction_are_deleted_once_old(
    media: Path, acme: TenantSetup, settings: Settings
) -> None:
    settings.HELPDESK_ORPHANED_FILES_AFTER_HOURS = 24
    with tenant_context(acme.id):
        kept = _with_attachment("invoice.pdf")
        with pytest.raises(RuntimeError):
            _store_then_fail()
        folder = attachment_folder(acme.id)
        assert kept.file.name == f"{folder}/{kept.id}"
        _, names = default_storage.listdir(folder)
        assert len(names) == 2  # the file outlived its row
        lost = next(n for n in names if n != str(kept.id))
        fresh = default_storage.save(f"{folder}/{new_id()}", ContentFile(b"in flight"))
        default_storage.save(f"{folder}/README", ContentFile(b"not ours"))
        for name in (kept.file.name, f"{folder}/{lost}", f"{folder}/README"):
            _age(name, 2 * DAY)

    result = ticket_tasks.delete_orphaned_attachment_files.apply(kwargs={"tenant_id": str(acme.id)})

    assert result.get() == 1
    _, names = default_storage.listdir(folder)
    # The live file, a young one (its transaction may still commit) and a foreign name stay.
    assert sorted(names) == sorted([str(kept.id), fresh.rpartition("/")[2], "README"])
    with tenant_context(acme.id):
        assert Attachment.objects.get(id=kept.id).file.read() == b"%PDF-1.4 invoice"


def test_the_daily_sweep_covers_every_tenant_and_only_its_own_files(
    media: Path, acme: TenantSetup, globex: TenantSetup
) -> None:
    with tenant_context(acme.id):
        orphan = default_storage.save(f"{attachment_folder(acme.id)}/{new_id()}", ContentFile(b"x"))
    with tenant_context(globex.id):
        theirs = _with_attachment("theirs.pdf").file.name
    assert theirs is not None
    _age(orphan, 2 * DAY)
    _age(theirs, 2 * DAY)

    assert ticket_tasks.sweep_orphaned_attachment_files.apply().get() >= 2

    assert not default_storage.exists(orphan)
    assert default_storage.exists(theirs)  # another tenant's row names it


def test_a_tenant_without_attachments_has_nothing_to_sweep(media: Path, acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        assert services.delete_orphaned_attachment_files(older_than=timedelta()) == 0
