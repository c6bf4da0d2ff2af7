"""Error pages."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render


def not_found_page(request: HttpRequest, what: str) -> HttpResponse:
    """The 404 page naming what is missing ("That mailbox", "Ticket #12")."""
    return render(request, "errors/not_found.html", {"what": what}, status=404)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"error": {"code": "not_found", "message": "Not found."}}, status=404)
    return not_found_page(request, "That page")


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"error": {"code": "server_error", "message": "Something went wrong on our side."}},
            status=500,
        )
    return render(request, "errors/server_error.html", status=500)
