"""Our task defaults, `system_task`, and the worker/beat heartbeats read by /healthz.

`system_task` is for global fan-out jobs; `helpdesk.tenancy.tasks.tenant_task` (tenant work,
inside the tenant context) builds on the same defaults. Both: keyword-only arguments, late
acks, JSON, time limits below Redis' visibility timeout, retries with backoff on
TransientError and on every infrastructure error (PostgreSQL, Redis, the broker, the
network: helpdesk.core.errors.INFRASTRUCTURE_ERRORS), which the same work survives once the
service is back.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar, cast, overload

from celery import signals
from celery.contrib.django.task import DjangoTask
from django.core.cache import cache

from helpdesk.celery import app
from helpdesk.core.errors import INFRASTRUCTURE_ERRORS, TransientError

WORKER_HEARTBEAT_KEY = "health:worker"
BEAT_HEARTBEAT_KEY = "health:beat"
HEARTBEAT_INTERVAL_SECONDS = 10
HEARTBEAT_TTL_SECONDS = 45

TASK_DEFAULTS: dict[str, Any] = {
    "base": DjangoTask,
    "acks_late": True,
    "reject_on_worker_lost": False,
    "autoretry_for": (TransientError, *INFRASTRUCTURE_ERRORS),
    # Backoff from 5 s (5, 10, 20, 40, 80 s before full jitter): with Celery's 1 s factor
    # all five retries could fall inside a 20-second database outage. What still runs out
    # is picked up again by the sweepers.
    "retry_backoff": 5,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 5,
    "soft_time_limit": 240,
    "time_limit": 300,
}


_P = ParamSpec("_P")
_R = TypeVar("_R")


def register_task(func: Callable[..., Any], settings: dict[str, Any]) -> Callable[..., Any]:
    """Celery's `app.task(...)` decorator, named after the function's dotted path unless
    `name=` is given: a task that moved keeps its old name, because messages already queued
    in Redis carry it."""
    name = settings.pop("name", None) or f"{func.__module__}.{func.__name__}"
    register: Callable[..., Any] = app.task(name=name, **settings)
    return register


@overload
def system_task(func: Callable[_P, _R], /) -> DjangoTask[_P, _R]: ...
@overload
def system_task(**options: Any) -> Callable[[Callable[_P, _R]], DjangoTask[_P, _R]]: ...
def system_task(*args: Any, **options: Any) -> Any:
    """Register a global task (no tenant context): fan-out and platform jobs."""

    def decorate(func: Callable[_P, _R]) -> DjangoTask[_P, _R]:
        return cast("DjangoTask[_P, _R]", register_task(func, {**TASK_DEFAULTS, **options})(func))

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
