"""Tenant tasks: a task queued for a tenant that was deleted since is dropped, not retried;
any other failure stands."""

from __future__ import annotations

import logging
import uuid

import pytest

from tests.conftest import TenantSetup
from tickets.mail_in import tasks as mail_in_tasks
from tickets.models import InboundEmail


def test_a_task_of_a_deleted_tenant_is_dropped_with_a_warning(
    db: None, caplog: pytest.LogCaptureFixture
) -> None:
    gone = str(uuid.uuid4())
    with caplog.at_level(logging.WARNING, logger="helpdesk.tenancy.tasks"):
        result = mail_in_tasks.process_inbound_email.run(tenant_id=gone, email_id=str(uuid.uuid4()))
    assert result is None
    assert f"task process_inbound_email dropped: tenant {gone} no longer exists" in caplog.text


def test_a_failing_task_of_a_live_tenant_still_fails(acme: TenantSetup) -> None:
    with pytest.raises(InboundEmail.DoesNotExist):
        mail_in_tasks.process_inbound_email.run(tenant_id=str(acme.id), email_id=str(uuid.uuid4()))
