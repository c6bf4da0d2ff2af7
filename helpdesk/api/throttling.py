from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from helpdesk.core import ratelimit


class PrincipalRateThrottle(SimpleRateThrottle):
    """Requests per member per tenant, counted in the cache (Redis); requests without a
    member per client IP, found as the brute-force limits find it (helpdesk.core.ratelimit),
    not from an X-Forwarded-For the client may have written."""

    scope = "principal"

    def get_ident(self, request: Request) -> str:
        return ratelimit.client_ip(request._request)

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        membership = getattr(request._request, "membership", None)
        if membership is None:
            return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
        return self.cache_format % {"scope": self.scope, "ident": str(membership.id)}
