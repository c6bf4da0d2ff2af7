"""Single sign-on settings: the tenant's OpenID Connect provider (issuer, client id and
secret) and the email domains whose people get a seat when they first sign in through
it. Admins only; every change is in the audit log, without the secret."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from django.db import transaction

from helpdesk.accounts.errors import InvalidSsoSettings, SsoNotConfigured
from helpdesk.accounts.models import SsoProvider
from helpdesk.core import crypto
from helpdesk.tenancy import audit, permissions
from helpdesk.tenancy.models import AuditAction, Membership
from helpdesk.tenancy.permissions import Capability

MAX_DOMAINS = 50
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _clean_issuer(issuer: str) -> str:
    """An https URL (http only on this machine's loopback, for development and tests),
    without query or fragment; stored without its trailing slash."""
    value = issuer.strip()
    parts = urlsplit(value)
    host = (parts.hostname or "").lower()
    if (
        len(value) > 500
        or not host
        or parts.query
        or parts.fragment
        or parts.username
        or parts.password
        or parts.scheme not in {"https", "http"}
        or (parts.scheme == "http" and not _is_loopback(host))
    ):
        raise InvalidSsoSettings(
            "The issuer is the provider's https:// address (as in its discovery document).",
            field="issuer",
        )
    return value.rstrip("/")


def _clean_domains(domains: list[str]) -> list[str]:
    cleaned: list[str] = []
    for raw in domains:
        domain = str(raw).strip().lower().lstrip("@").rstrip(".")
        if not _DOMAIN.match(domain):
            raise InvalidSsoSettings(
                f"{str(raw)[:100]!r} is not an email domain (example.com).",
                field="allowed_domains",
            )
        if domain not in cleaned:
            cleaned.append(domain)
    if len(cleaned) > MAX_DOMAINS:
        raise InvalidSsoSettings(f"At most {MAX_DOMAINS} domains.", field="allowed_domains")
    return cleaned


def get_sso_provider() -> SsoProvider:
    """The current tenant's provider. Raises SsoNotConfigured."""
    provider = SsoProvider.objects.first()
    if provider is None:
        raise SsoNotConfigured()
    return provider


@transaction.atomic
def save_sso_provider(
    *,
    actor: Membership | None,
    issuer: str,
    client_id: str,
    client_secret: str | None,
    allowed_domains: list[str],
    is_enabled: bool,
) -> SsoProvider:
    """Set up or change the tenant's provider. The secret is kept as it was when
    `client_secret` is None (it is never shown again), and is required the first time.
    Admins only (PermissionDenied). Raises InvalidSsoSettings naming the field."""
    permissions.require(actor, Capability.MANAGE_SETTINGS)
    issuer = _clean_issuer(issuer)
    client_id = client_id.strip()
    if not client_id or len(client_id) > 200:
        raise InvalidSsoSettings("The client id has 1 to 200 characters.", field="client_id")
    domains = _clean_domains(allowed_domains)
    provider = SsoProvider.objects.select_for_update().first() or SsoProvider()
    if client_secret is not None:
        secret = client_secret.strip()
        if not secret or len(secret) > 500:
            raise InvalidSsoSettings(
                "The client secret has 1 to 500 characters.", field="client_secret"
            )
        provider.client_secret_encrypted = crypto.encrypt(secret)
    elif not provider.client_secret_encrypted:
        raise InvalidSsoSettings("The client secret is required.", field="client_secret")
    provider.issuer = issuer
    provider.client_id = client_id
    provider.allowed_domains = domains
    provider.is_enabled = is_enabled
    provider.save()
    audit.record_audit_event(
        action=AuditAction.SETTINGS_CHANGED,
        actor=actor,
        target_type="sso",
        target_label=issuer,
        details={
            "client_id": client_id,
            "allowed_domains": ", ".join(domains),
            "is_enabled": str(is_enabled).lower(),
            "client_secret": "changed" if client_secret is not None else "kept",
        },
    )
    return provider


@transaction.atomic
def delete_sso_provider(*, actor: Membership | None) -> None:
    """Remove the tenant's provider (members keep their seats and passwords). Admins only
    (PermissionDenied). Raises SsoNotConfigured."""
    permissions.require(actor, Capability.MANAGE_SETTINGS)
    provider = get_sso_provider()
    provider.delete()
    audit.record_audit_event(
        action=AuditAction.SETTINGS_CHANGED,
        actor=actor,
        target_type="sso",
        target_label=provider.issuer,
        details={"deleted": "true"},
    )
