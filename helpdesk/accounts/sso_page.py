"""The single sign-on settings page for admins (/accounts/sso/settings/): the provider's
issuer, client id and write-only secret, the email domains that get a seat on first
sign-in, on or off, the redirect URI to register at the provider, and a test of the
issuer's discovery document. The same services as the API (helpdesk.accounts.sso), so
every change is in the audit log, without the secret."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from helpdesk.accounts import sso
from helpdesk.accounts.errors import InvalidSsoSettings, SsoNotConfigured, SsoProviderUnreachable
from helpdesk.accounts.forms import SsoProviderForm
from helpdesk.accounts.models import SsoProvider
from helpdesk.core.errors import DomainError
from helpdesk.tenancy.decorators import member_required
from helpdesk.tenancy.http import MemberHttpRequest
from helpdesk.tenancy.permissions import Capability

TEMPLATE = "accounts/sso_settings.html"


def callback_url(request: HttpRequest) -> str:
    """The redirect URI the provider sends people back to: the tenant's own host."""
    return request.build_absolute_uri(reverse("accounts:sso-callback"))


def _initial(provider: SsoProvider | None) -> dict[str, Any]:
    if provider is None:
        return {"is_enabled": True}
    return {
        "issuer": provider.issuer,
        "client_id": provider.client_id,
        "allowed_domains": "\n".join(provider.allowed_domains),
        "is_enabled": provider.is_enabled,
    }


def _context(
    request: HttpRequest, form: SsoProviderForm, provider: SsoProvider | None
) -> dict[str, Any]:
    return {
        "form": form,
        "provider": provider,
        "secret_set": bool(provider and provider.client_secret_encrypted),
        "redirect_uri": callback_url(request),
    }


@member_required(may=Capability.MANAGE_SETTINGS)
def sso_settings(request: MemberHttpRequest) -> HttpResponse:
    """Admin: set up, change or remove the tenant's OpenID Connect provider."""
    provider = sso.find_sso_provider()
    form = SsoProviderForm(request.POST or None, initial=_initial(provider))
    if request.method == "POST" and form.is_valid():
        try:
            sso.save_sso_provider(
                actor=request.membership,
                issuer=form.cleaned_data["issuer"],
                client_id=form.cleaned_data["client_id"],
                client_secret=form.cleaned_data["client_secret"] or None,
                allowed_domains=form.cleaned_data["allowed_domains"],
                is_enabled=form.cleaned_data["is_enabled"],
            )
        except InvalidSsoSettings as refused:
            field = refused.details.get("field")
            form.add_error(field if field in form.fields else None, str(refused))
        else:
            state = "on" if form.cleaned_data["is_enabled"] else "off"
            messages.success(request, f"Single sign-on settings saved; it is {state}.")
            return redirect("accounts:sso-settings")
    return render(
        request,
        TEMPLATE,
        _context(request, form, provider),
        status=400 if form.errors else 200,
    )


@require_POST
@member_required(may=Capability.MANAGE_SETTINGS)
def sso_discovery_check(request: MemberHttpRequest) -> HttpResponse:
    """Admin: fetch the discovery document of the issuer typed in the form (saved or not)
    and say what came back. htmx gets the result line; a plain post the whole page."""
    issuer = str(request.POST.get("issuer") or "")
    context: dict[str, Any] = {"issuer": issuer.strip()}
    try:
        document = sso.check_discovery(actor=request.membership, issuer=issuer)
    except (InvalidSsoSettings, SsoProviderUnreachable) as refused:
        context["problem"] = str(refused)
    else:
        context["document"] = document
    status = 200 if "document" in context else 400
    if request.htmx:
        return render(request, f"{TEMPLATE}#discovery_result", context, status=status)
    provider = sso.find_sso_provider()
    form = SsoProviderForm(initial={**_initial(provider), "issuer": issuer})
    return render(
        request, TEMPLATE, {**_context(request, form, provider), **context}, status=status
    )


@require_POST
@member_required(may=Capability.MANAGE_SETTINGS)
def sso_settings_delete(request: MemberHttpRequest) -> HttpResponse:
    """Admin: remove the provider (members keep their seats and passwords)."""
    try:
        sso.delete_sso_provider(actor=request.membership)
    except SsoNotConfigured:
        messages.error(request, SsoNotConfigured.message)
    except DomainError as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, "Single sign-on removed: members log in with passwords.")
    return redirect("accounts:sso-settings")
