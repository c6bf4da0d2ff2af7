"""The platform area on the bare base domain: tenants and the development outbox."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser
from pathlib import Path

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.models import Tenant

OUTBOX_PAGE_SIZE = 100


def _staff_only(request: HttpRequest) -> HttpResponse | None:
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not request.user.is_staff:
        raise Http404
    return None


def tenant_list(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return render(request, "ops/welcome.html")
    if (denied := _staff_only(request)) is not None:
        return denied
    tenants = [
        (tenant, tenancy_selectors.tenant_base_url(tenant))
        for tenant in Tenant.objects.order_by("slug")
    ]
    return render(request, "ops/tenant_list.html", {"tenants": tenants})


def _outbox_files() -> list[Path]:
    directory = Path(settings.HELPDESK_OUTBOX_DIR)
    if not directory.is_dir():
        return []
    return sorted(directory.glob("*.eml"), reverse=True)[:OUTBOX_PAGE_SIZE]


def outbox(request: HttpRequest) -> HttpResponse:
    """Mail the help desk would have sent (development: the .eml files under var/outbox/)."""
    if (denied := _staff_only(request)) is not None:
        return denied
    parser = BytesParser(policy=policy.default)
    rows = []
    for path in _outbox_files():
        with path.open("rb") as handle:
            headers = parser.parse(handle, headersonly=True)
        rows.append(
            {
                "name": path.name,
                "to": headers.get("To", ""),
                "from": headers.get("From", ""),
                "subject": headers.get("Subject", ""),
                "date": headers.get("Date", ""),
            }
        )
    return render(
        request, "ops/outbox.html", {"rows": rows, "directory": settings.HELPDESK_OUTBOX_DIR}
    )


def outbox_message(request: HttpRequest, name: str) -> HttpResponse:
    if (denied := _staff_only(request)) is not None:
        return denied
    path = Path(settings.HELPDESK_OUTBOX_DIR) / name
    if (
        path.suffix != ".eml"
        or path.parent != Path(settings.HELPDESK_OUTBOX_DIR)
        or not path.is_file()
    ):
        raise Http404
    return HttpResponse(path.read_bytes(), content_type="text/plain; charset=utf-8")
