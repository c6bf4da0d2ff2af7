"""/healthz on every host: database, Redis and worker heartbeat; 503 when one is down."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse


def check_database() -> dict[str, Any]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:
        return {"ok": False, "error": type(error).__name__}
    return {"ok": True}


def check_redis() -> dict[str, Any]:
    try:
        client = cache._cache.get_client(write=True)  # type: ignore[attr-defined]
        client.ping()
    except Exception as error:
        return {"ok": False, "error": type(error).__name__}
    return {"ok": True}


def check_worker() -> dict[str, Any]:
    from helpdesk.core.tasks import WORKER_HEARTBEAT_KEY

    try:
        beat = cache.get(WORKER_HEARTBEAT_KEY)
    except Exception as error:
        return {"ok": False, "error": type(error).__name__}
    if beat is None:
        return {"ok": False, "error": "no worker heartbeat"}
    return {"ok": True, "last_heartbeat_seconds_ago": round(time.time() - float(beat), 1)}


def health_report() -> tuple[bool, dict[str, Any]]:
    checks = {"database": check_database(), "redis": check_redis(), "worker": check_worker()}
    healthy = all(check["ok"] for check in checks.values())
    return healthy, {"status": "ok" if healthy else "unavailable", **checks}


class HealthCheckMiddleware:
    """Answers /healthz before sessions and tenancy, for load balancers and compose."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path in {"/healthz", "/healthz/"}:
            healthy, report = health_report()
            response = JsonResponse(report, status=200 if healthy else 503)
            response["Cache-Control"] = "no-store"
            return response
        return self.get_response(request)


def check_beat() -> dict[str, Any]:
    """Beat's heartbeat task, run through the worker: beat, broker and worker all work."""
    from helpdesk.core.tasks import BEAT_HEARTBEAT_KEY

    try:
        beat = cache.get(BEAT_HEARTBEAT_KEY)
    except Exception as error:
        return {"ok": False, "error": type(error).__name__}
    if beat is None:
        return {"ok": False, "error": "no beat heartbeat"}
    return {"ok": True, "last_heartbeat_seconds_ago": round(time.time() - float(beat), 1)}


def main(argv: list[str]) -> int:
    """`python -m helpdesk.core.health worker|beat`: a container health check; exit 0 when
    that process' heartbeat in Redis is fresh (they expire after HEARTBEAT_TTL_SECONDS)."""
    import django

    django.setup()
    checks = {"worker": check_worker, "beat": check_beat}
    if len(argv) != 1 or argv[0] not in checks:
        print("usage: python -m helpdesk.core.health worker|beat", file=sys.stderr)  # noqa: T201
        return 2
    result = checks[argv[0]]()
    print(result)  # noqa: T201
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
    sys.exit(main(sys.argv[1:]))
