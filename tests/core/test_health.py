"""/healthz: database, Redis and worker heartbeat; 503 when one is down."""

from __future__ import annotations

import time

from django.core.cache import cache
from django.test import Client
from pytest_django import Settings

from helpdesk.core.tasks import WORKER_HEARTBEAT_KEY


def test_healthz_ok_with_a_worker_heartbeat(db: None) -> None:
    cache.set(WORKER_HEARTBEAT_KEY, time.time(), 30)
    response = Client(HTTP_HOST="demo.localhost").get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"]
    assert body["redis"]["ok"]
    assert body["worker"]["ok"]


def test_healthz_503_without_a_worker(db: None) -> None:
    cache.delete(WORKER_HEARTBEAT_KEY)
    response = Client(HTTP_HOST="anything.example").get("/healthz")
    assert response.status_code == 503
    assert response.json()["worker"] == {"ok": False, "error": "no worker heartbeat"}


def test_healthz_503_when_redis_is_down(db: None, settings: Settings) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "helpdesk.core.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    response = Client(HTTP_HOST="localhost").get("/healthz")
    assert response.status_code == 503
    assert response.json()["redis"]["ok"] is False
