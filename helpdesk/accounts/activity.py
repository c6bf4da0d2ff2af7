"""Activity: a member's request in their browser marks them present (availability).

`ActivityMiddleware` is listed right after PrincipalMiddleware, inside the tenant context
and transaction TenantMiddleware opened. Once the URL is resolved and before the view runs
(so the page already shows the member online), a member's request counts as activity
(`services.record_activity`: last seen, and an automatic away or offline member on shift
comes back online), unless:

- it came with an API token: a script is not a person at the desk;
- its view is marked `@passive`: what a page asks by itself on a timer (presence pings,
  the notification badge, the SLA panel) would keep an open tab "active" for ever, and
  logging out or choosing a status by hand is not "back at work".

A request that is refused (4xx/5xx) is rolled back with everything it wrote, this too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.http import HttpRequest, HttpResponse

from helpdesk.accounts import services

_View = TypeVar("_View", bound=Callable[..., object])

PASSIVE_ATTRIBUTE = "helpdesk_passive"


def passive(view: _View) -> _View:
    """Mark a view whose requests are not activity (a page polling it, logging out,
    choosing a status). Decorators built with functools.wraps keep the mark, in whatever
    order."""
    setattr(view, PASSIVE_ATTRIBUTE, True)
    return view


class ActivityMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., object],
        view_args: tuple[object, ...],
        view_kwargs: dict[str, object],
    ) -> None:
        membership = getattr(request, "membership", None)
        if (
            membership is not None
            and getattr(request, "api_token", None) is None
            and not getattr(view_func, PASSIVE_ATTRIBUTE, False)
        ):
            services.record_activity(membership=membership)
