"""Task decorators with our defaults, and the worker/beat heartbeats read by /healthz.

`tenant_task` runs the body inside `tenant_context(tenant_id)`; `system_task` is for global
fan-out jobs. Both: keyword-only arguments, late acks, JSON, time limits below Redis'
visibility timeout, retries with backoff on TransientError and on every infrastructure error
(PostgreSQL, Redis, the broker, the network: helpdesk.core.errors.INFRASTRUCTURE_ERRORS),
which the same work survives once the service is back.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar, cast, overload

from celery import signals
from celery.contrib.django.task import DjangoTask
from django.core.cache import cache

from helpdesk.celery import app
from helpdesk.core.errors import INFRASTRUCTURE_ERRORS, TransientError
from helpdesk.tenancy.context import tenant_context

logger = logging.getLogger(__name__)
WORKER_HEARTBEAT_KEY = "health:worker"
BEAT_HEARTBEAT_KEY = "health:beat"
HEARTBEAT_INTERVAL_SECONDS = 10
HEARTBEAT_TTL_SECONDS = 45

_DEFAULTS: dict[str, Any] = {
    "base": DjangoTask,
    "acks_late": True,
    "reject_on_worker_lost": False,
    "autoretry_for": (TransientError, *INFRASTRUCTURE_ERRORS),
    "retry_backoff": True,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 5,
    "soft_time_limit": 240,
    "time_limit": 300,
}


_P = ParamSpec("_P")
_R = TypeVar("_R")


@overload
def tenant_task(func: Callable[_P, _R], /) -> DjangoTask[_P, _R]: ...
@overload
def tenant_task(
    *, own_transactions: bool = False, **options: Any
) -> Callable[[Callable[_P, _R]], DjangoTask[_P, _R]]: ...
def tenant_task(*args: Any, own_transactions: bool = False, **options: Any) -> Any:
    """Register a task whose body runs inside the tenant context of its `tenant_id` kwarg.

    With `own_transactions=True` the body enters `tenant_context(tenant_id)` itself, once per
    step that must be committed before the next begins (claim a row, talk to a peer, record
    the outcome); otherwise the whole body is one transaction."""

    def decorate(func: Callable[_P, _R]) -> DjangoTask[_P, _R]:
        body: Callable[..., _R] = func

        @functools.wraps(func)
        def run(*, tenant_id: str, **kwargs: Any) -> _R | None:
            try:
                if own_transactions:
                    return body(tenant_id=tenant_id, **kwargs)
                with tenant_context(tenant_id):
                    return body(tenant_id=tenant_id, **kwargs)
            except Exception:
                if _tenant_exists(tenant_id):
                    raise
                # Queued before its tenant was deleted: nothing left to do it for, and
                # retrying could never succeed.
                logger.warning(
                    "task %s dropped: tenant %s no longer exists", run.__name__, tenant_id
                )
                return None

        settings = {**_DEFAULTS, **options}
        if "autoretry_for" in options:
            settings["autoretry_for"] = (*_DEFAULTS["autoretry_for"], *options["autoretry_for"])
        return cast("DjangoTask[_P, _R]", _register(func, settings)(run))

    if args and callable(args[0]):
        return decorate(args[0])
    return decorate


def _register(func: Callable[..., Any], settings: dict[str, Any]) -> Callable[..., Any]:
    """Celery's `app.task(...)` decorator, named after the function's dotted path unless
    `name=` is given: a task that moved keeps its old name, because messages already queued
    in Redis carry it."""
    name = settings.pop("name", None) or f"{func.__module__}.{func.__name__}"
    register: Callable[..., Any] = app.task(name=name, **settings)
    return register


def _tenant_exists(tenant_id: str) -> bool:
    """True also when it cannot be told (database down): then the error stands."""
    from helpdesk.tenancy.models import Tenant

    try:
        return Tenant.objects.filter(id=tenant_id).exists()
    except Exception:
        return True


@overload
def system_task(func: Callable[_P, _R], /) -> DjangoTask[_P, _R]: ...
@overload
def system_task(**options: Any) -> Callable[[Callable[_P, _R]], DjangoTask[_P, _R]]: ...
def system_task(*args: Any, **options: Any) -> Any:
    """Register a global task (no tenant context): fan-out and platform jobs."""

    def decorate(func: Callable[_P, _R]) -> DjangoTask[_P, _R]:
        return cast("DjangoTask[_P, _R]", _register(func, {**_DEFAULTS, **options})(func))

    if args and callable(args[0]):
        return decorate(args[0])
    return decorate


@system_task
def record_beat_heartbeat() -> None:
    """Run by beat through the worker: proves beat, broker and worker all work."""
    cache.set(BEAT_HEARTBEAT_KEY, time.time(), HEARTBEAT_TTL_SECONDS)


def _beat_worker_heartbeat(stop: threading.Event) -> None:
    while not stop.wait(0):
        # Redis down: /healthz reports it; keep trying.
        with contextlib.suppress(Exception):
            cache.set(WORKER_HEARTBEAT_KEY, time.time(), HEARTBEAT_TTL_SECONDS)
        stop.wait(HEARTBEAT_INTERVAL_SECONDS)


_heartbeat_stop = threading.Event()


@signals.worker_ready.connect
def _start_heartbeat(**kwargs: Any) -> None:
    threading.Thread(
        target=_beat_worker_heartbeat,
        args=(_heartbeat_stop,),
        daemon=True,
        name="helpdesk-heartbeat",
    ).start()


@signals.worker_shutdown.connect
def _stop_heartbeat(**kwargs: Any) -> None:
    _heartbeat_stop.set()
    cache.delete(WORKER_HEARTBEAT_KEY)
