"""Requests the help desk refuses before any view runs, and the 404 page for a missing object
a page view did not catch."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.middleware.common import CommonMiddleware as DjangoCommonMiddleware
from django.shortcuts import render

from helpdesk.core.errors import NotFound

NUL = "\x00"
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
# ESP inbound webhooks post whole mails as form fields: a mail may hold any byte and is
# stored as it came (processing drops NUL from what it keeps as text).
RAW_MAIL_PATHS = ("/anymail/",)
ESP_WEBHOOK_PATHS = ("/anymail/",)
WEBHOOKS_DISABLED_MESSAGE = (
    "ESP webhooks are disabled: the operator has not set ANYMAIL_WEBHOOK_SECRET, and the help "
    "desk accepts no unauthenticated mail or delivery status."
)
# .env.example's placeholders all contain it; credentials anyone can read are no secret.
PLACEHOLDER_MARK = "change-me"


def webhook_secret_is_set() -> bool:
    """Whether ANYMAIL_WEBHOOK_SECRET holds real credentials: set, and not (or not still
    partly) .env.example's change-me placeholder."""
    secret = settings.ANYMAIL.get("WEBHOOK_SECRET")
    if not secret:
        return False
    # anymail accepts one `user:password` or a list of them (while rotating).
    values = [secret] if isinstance(secret, str) else list(secret)
    return all(value and PLACEHOLDER_MARK not in value.lower() for value in values)


def _carries_nul(values: QueryDict) -> bool:
    return any(NUL in key or any(NUL in value for value in values.getlist(key)) for key in values)


class WebhookSecretMiddleware:
    """ESP webhooks fail closed. django-anymail accepts unauthenticated posts (with only a
    warning) when ANYMAIL_WEBHOOK_SECRET is unset, and an ESP whose signature it checks
    still leaves its other webhooks open; so without the secret (or with .env.example's
    placeholder, whose credentials are public) every /anymail/ URL is a 403 and nobody can
    post mail or delivery status into a tenant. The URL is matched on path_info, which the
    URL resolver routes by, so a script prefix (SCRIPT_NAME) cannot step around it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith(ESP_WEBHOOK_PATHS) and not webhook_secret_is_set():
            return HttpResponse(WEBHOOKS_DISABLED_MESSAGE, status=403, content_type="text/plain")
        return self.get_response(request)


class RejectNulMiddleware:
    """PostgreSQL text cannot hold NUL (U+0000) and no path, filter or form field needs
    one: a path, query string or form field with one gets a 400 that says so, instead of
    reaching a query as a search or a filter value and failing there with a 500. (API
    JSON bodies are checked by the serializers' fields; uploaded files, and mail posted
    to the ESP webhooks, may hold any byte.)"""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            NUL in request.path
            or _carries_nul(request.GET)
            or (
                request.method == "POST"
                and request.content_type in FORM_TYPES
                and not request.path.startswith(RAW_MAIL_PATHS)
                and _carries_nul(request.POST)
            )
        ):
            message = "The request contains a NUL character, which no field accepts."
            if request.path.startswith("/api/"):
                return JsonResponse(
                    {"error": {"code": "bad_request", "message": message}}, status=400
                )
            return render(request, "errors/bad_request.html", {"message": message}, status=400)
        return self.get_response(request)


class CommonMiddleware(DjangoCommonMiddleware):
    """Django's, except that a write to an API URL without its trailing slash is not
    redirected: clients follow a 301 with a GET, so the write would be lost behind a 200.
    It gets a 404 that names the right URL instead (helpdesk.core.views.not_found)."""

    def should_redirect_with_slash(self, request: HttpRequest) -> bool:
        if request.path_info.startswith("/api/") and request.method not in ("GET", "HEAD"):
            return False
        return super().should_redirect_with_slash(request)


class NotFoundMiddleware:
    """A page view that lets a NotFound domain error escape (a ticket, category or section
    missing, or another tenant's: a presence ping for a ticket merged away meanwhile)
    answers the 404 page with the error's message, not a 500. The API's exception handler
    maps every DomainError itself."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, NotFound) and not request.path.startswith("/api/"):
            return render(request, "errors/not_found.html", {"message": str(exception)}, status=404)
        return None
