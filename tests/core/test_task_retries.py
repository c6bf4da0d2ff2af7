"""Which failures a tenant task retries: an outage even when another exception wraps it, and
never a statement timeout, which would fail the same way on every retry (and, for inbound
mail, be swept back for ever)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from celery import signals
from django.db import OperationalError, connection, transaction
from redis.backoff import NoBackoff
from redis.retry import Retry

from helpdesk.celery import app as celery_app
from helpdesk.core.errors import TransientError, as_retryable, is_temporary
from helpdesk.tenancy.context import tenant_context
from helpdesk.tenancy.tasks import tenant_task
from tests.conftest import TenantSetup

ATTEMPTS: list[str] = []


def _redis_outage() -> redis.exceptions.ConnectionError:
    """A real connection error: Redis on a socket where nothing listens (at once: redis-py
    would otherwise try again with backoff, almost 4 s per error)."""
    try:
        redis.Redis(
            unix_socket_path="/nonexistent/helpdesk-gone.sock", retry=Retry(NoBackoff(), 0)
        ).ping()
    except redis.exceptions.ConnectionError as error:
        return error
    raise AssertionError("a Redis answered on a socket that does not exist")


def _statement_timeout() -> OperationalError:
    """A real statement timeout from PostgreSQL, as Django raises it (in a savepoint, so the
    surrounding transaction goes on)."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = 1")
            cursor.execute("SELECT pg_sleep(1)")
    except OperationalError as error:
        return error
    raise AssertionError("the statement ran past its timeout without an error")


@tenant_task(name="tests.core.test_task_retries.fail_with")
def fail_with(*, tenant_id: str, kind: str) -> None:
    ATTEMPTS.append(kind)
    if kind == "wrapped-outage":
        raise RuntimeError("could not read the tenant's addresses") from _redis_outage()
    raise _statement_timeout()


@pytest.fixture
def retries() -> Iterator[list[str]]:
    """Retries Celery announces; eager tasks run them in turn when errors do not propagate."""
    celery_app.conf.task_eager_propagates = False
    ATTEMPTS.clear()
    seen: list[str] = []

    def record(sender: Any = None, reason: Any = None, **kwargs: Any) -> None:
        seen.append(repr(reason))

    signals.task_retry.connect(record, weak=False)
    yield seen
    signals.task_retry.disconnect(record)
    celery_app.conf.task_eager_propagates = True


def test_an_outage_wrapped_in_another_error_is_retried(
    acme: TenantSetup, retries: list[str]
) -> None:
    result = fail_with.delay(tenant_id=str(acme.id), kind="wrapped-outage")
    assert len(retries) == fail_with.max_retries
    assert len(ATTEMPTS) == 1 + (fail_with.max_retries or 0)
    assert result.state == "FAILURE"
    assert isinstance(result.result, TransientError)
    assert isinstance(result.result.__cause__, RuntimeError)


def test_a_statement_timeout_is_not_retried(acme: TenantSetup, retries: list[str]) -> None:
    result = fail_with.delay(tenant_id=str(acme.id), kind="statement-timeout")
    assert retries == []
    assert ATTEMPTS == ["statement-timeout"]
    assert result.state == "FAILURE"
    assert "statement timeout" in str(result.result)


def test_a_statement_timeout_is_not_an_outage(acme: TenantSetup) -> None:
    with tenant_context(acme.id):
        timeout = _statement_timeout()
    assert not is_temporary(timeout)
    retried = (OperationalError,)
    assert not isinstance(as_retryable(timeout, retried), retried)
    outage = _redis_outage()
    assert is_temporary(outage)
    assert as_retryable(outage, (redis.exceptions.ConnectionError,)) is outage
