"""Error pages."""

from __future__ import annotations

import sys

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.urls import Resolver404, resolve

from helpdesk.core.errors import is_infrastructure_error


def not_found_page(request: HttpRequest, what: str) -> HttpResponse:
    """The 404 page naming what is missing ("That mailbox", "Ticket #12")."""
    return render(request, "errors/not_found.html", {"what": what}, status=404)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith("/api/"):
        message = "Not found."
        if not request.path.endswith("/") and _resolves(request.path_info + "/"):
            message = f"Not found: API URLs end with a slash ({request.path}/)."
        return JsonResponse({"error": {"code": "not_found", "message": message}}, status=404)
    return not_found_page(request, "That page")


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's own 400s (a body over DATA_UPLOAD_MAX_MEMORY_SIZE, a multipart body without
    a boundary, a forbidden host), in the API's envelope on API paths."""
    message = _bad_request_message(exception)
    if request.path.startswith("/api/"):
        return JsonResponse({"error": {"code": "bad_request", "message": message}}, status=400)
    return render(request, "errors/bad_request.html", {"message": message}, status=400)


def _bad_request_message(exception: Exception | None) -> str:
    if isinstance(exception, RequestDataTooBig):
        return (
            f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes;"
            " send attachments as multipart files."
        )
    if isinstance(exception, MultiPartParserError):
        return f"The multipart body cannot be read: {exception}."
    return "The request could not be read."


def _resolves(path: str) -> bool:
    try:
        resolve(path)
    except Resolver404:
        return False
    return True


RETRY_AFTER_SECONDS = 60


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's handler500, called while the error is being handled. An outage (database,
    Redis) is a 503 with Retry-After, so that ESPs posting inbound mail and API clients try
    again later; anything else is a 500. Neither shows the error's text."""
    error = sys.exc_info()[1]
    if error is not None and is_infrastructure_error(error):
        return service_unavailable(request)
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"error": {"code": "server_error", "message": "Something went wrong on our side."}},
            status=500,
        )
    return render(request, "errors/server_error.html", status=500)


def service_unavailable(request: HttpRequest) -> HttpResponse:
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if request.path.startswith(("/api/", "/anymail/")):
        return JsonResponse(
            {
                "error": {
                    "code": "service_unavailable",
                    "message": "The service is unavailable for a moment; please try again.",
                }
            },
            status=503,
            headers=headers,
        )
    response = render(request, "errors/service_unavailable.html", status=503)
    for header, value in headers.items():
        response.headers[header] = value
    return response
