"""Times in the agent's time zone: their own choice (Settings → Preferences), else the help
desk's. The choice is read once per session (the session lives in the cache) and kept
there, so pages cost no extra query; the API answers in ISO 8601 with an offset and is
left alone."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable

from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils import timezone

from tickets.configuration import services as configuration


class AgentTimeZoneMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        tenant = getattr(request, "tenant", None)
        if tenant is None or request.path.startswith("/api/"):
            return self.get_response(request)
        zone = ""
        membership = getattr(request, "membership", None)
        session = getattr(request, "session", None)
        if membership is not None and session is not None:
            key = f"{configuration.TIME_ZONE_SESSION_KEY}:{membership.id}"
            zone = session.get(key)
            if zone is None:
                zone = configuration.member_time_zone(membership)
                session[key] = zone
        try:
            active = zoneinfo.ZoneInfo(zone or tenant.time_zone or "UTC")
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            active = zoneinfo.ZoneInfo("UTC")
        with timezone.override(active):
            return self.get_response(request)
