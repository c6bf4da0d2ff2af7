"""Single sign-on settings: the tenant's OpenID Connect provider (issuer, client id and
secret) and the email domains whose people get a seat when they first sign in through
it. Admins only; every change is in the audit log, without the secret."""

from __future__ import annotations

import ipaddress
import re
import secrets
from typing import Any
from urllib.parse import urlsplit

import requests
from authlib.common.errors import AuthlibBaseError as OAuthError
from authlib.integrations.requests_client import OAuth2Session
from django.db import transaction
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from helpdesk.accounts import selectors as account_selectors
from helpdesk.accounts import services as account_services
from helpdesk.accounts.errors import (
    InvalidSsoSettings,
    SsoNotConfigured,
    SsoProviderUnreachable,
    SsoSignInFailed,
)
from helpdesk.accounts.models import SsoProvider
from helpdesk.core import crypto, outbound_http
from helpdesk.tenancy import audit, permissions
from helpdesk.tenancy import selectors as tenancy_selectors
from helpdesk.tenancy.models import AuditAction, Membership, MembershipRole
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


def find_sso_provider() -> SsoProvider | None:
    """The current tenant's provider, or None when it has none."""
    return SsoProvider.objects.first()


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


# --- Signing in through the provider ----------------------------------------------------

HTTP_TIMEOUT_SECONDS = 5  # to connect and for each read; twice that for a whole call
SCOPES = "openid email"


def _session(client: requests.Session | None = None) -> requests.Session:
    """A session (or authlib's OAuth2 session) whose every call goes only to a checked
    public address, pinned (helpdesk.core.outbound_http): an admin's setting must not make
    the server call its own network, not even through a name that changes its address
    between the check and the connection. HELPDESK_OUTBOUND_ALLOW_PRIVATE_HOSTS, the
    operator's switch for addresses admins type in, allows private ones. Every call here
    passes allow_redirects=False."""
    return outbound_http.mount(client or requests.Session())


def _get_json(url: str) -> dict[str, Any]:
    """The JSON object at `url`. Raises SsoProviderUnreachable saying what went wrong."""
    try:
        with _session() as client, outbound_http.deadline(2 * HTTP_TIMEOUT_SECONDS):
            response = client.get(url, timeout=HTTP_TIMEOUT_SECONDS, allow_redirects=False)
            if response.status_code != 200:
                raise SsoProviderUnreachable(
                    f"{url} answered HTTP {response.status_code}, not the JSON document."
                )
            data = response.json()
    except (outbound_http.OutboundHostNotFound, outbound_http.OutboundTargetRefused) as error:
        raise SsoProviderUnreachable(str(error)) from error
    except requests.RequestException as error:
        raise SsoProviderUnreachable(
            f"{url} could not be reached ({type(error).__name__})."
        ) from error
    except ValueError as error:
        raise SsoProviderUnreachable(f"{url} did not answer JSON.") from error
    if not isinstance(data, dict):
        raise SsoProviderUnreachable(f"{url} did not answer a JSON object.")
    return data


def _discover(provider: SsoProvider) -> dict[str, Any]:
    """The provider's discovery document, checked to name the configured issuer.
    Raises SsoProviderUnreachable saying what is wrong."""
    return discover_issuer(provider.issuer)


def discover_issuer(issuer: str) -> dict[str, Any]:
    """The discovery document of `issuer` (as stored: no trailing slash), checked to name
    that issuer and the endpoints sign-in needs. Raises SsoProviderUnreachable saying
    what is wrong."""
    document = _get_json(f"{issuer}/.well-known/openid-configuration")
    named = str(document.get("issuer", "")).rstrip("/")
    if named != issuer:
        raise SsoProviderUnreachable(
            f"The discovery document names the issuer {named[:200]!r}, not {issuer!r}."
        )
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(document.get(key), str):
            raise SsoProviderUnreachable(f"The discovery document has no {key}.")
    return document


def check_discovery(*, actor: Membership | None, issuer: str) -> dict[str, Any]:
    """Fetch the discovery document of `issuer` (cleaned as when saved) for an admin
    checking the settings. Admins only (PermissionDenied). Raises InvalidSsoSettings for
    a bad issuer, SsoProviderUnreachable saying what went wrong; the document on success."""
    permissions.require(actor, Capability.MANAGE_SETTINGS)
    return discover_issuer(_clean_issuer(issuer))


def enabled_provider() -> SsoProvider | None:
    """The current tenant's provider when it is switched on."""
    return SsoProvider.objects.filter(is_enabled=True).first()


def authorization_request(
    *, provider: SsoProvider, redirect_uri: str
) -> tuple[str, dict[str, str]]:
    """Where to send the browser, and what the session keeps until it comes back (state,
    nonce, PKCE verifier). Raises SsoProviderUnreachable."""
    document = _discover(provider)
    state = secrets.token_urlsafe(24)
    nonce = secrets.token_urlsafe(24)
    verifier = secrets.token_urlsafe(48)
    client = OAuth2Session(
        provider.client_id, redirect_uri=redirect_uri, scope=SCOPES, code_challenge_method="S256"
    )
    url, _ = client.create_authorization_url(
        document["authorization_endpoint"], state=state, nonce=nonce, code_verifier=verifier
    )
    return url, {"state": state, "nonce": nonce, "verifier": verifier}


def verified_email(
    *, provider: SsoProvider, code: str, redirect_uri: str, pending: dict[str, str]
) -> str:
    """Exchange the code for tokens and check the ID token (signature by the provider's
    keys, issuer, audience, expiry, nonce); the verified email address it names.
    Raises SsoSignInFailed."""
    try:
        document = _discover(provider)
        client = OAuth2Session(
            provider.client_id,
            crypto.decrypt(provider.client_secret_encrypted),
            redirect_uri=redirect_uri,
            token_endpoint_auth_method="client_secret_basic",  # noqa: S106  # a method name
        )
        with _session(client), outbound_http.deadline(2 * HTTP_TIMEOUT_SECONDS):
            token = client.fetch_token(
                document["token_endpoint"],
                code=code,
                code_verifier=pending["verifier"],
                timeout=HTTP_TIMEOUT_SECONDS,
                allow_redirects=False,
            )
        keys = KeySet.import_key_set(_get_json(document["jwks_uri"]))  # type: ignore[arg-type]
        decoded = jwt.decode(str(token.get("id_token", "")), keys, algorithms=["RS256"])
        jwt.JWTClaimsRegistry(
            leeway=60,
            iss={"essential": True, "value": document["issuer"]},
            aud={"essential": True, "value": provider.client_id},
            exp={"essential": True},
            nonce={"essential": True, "value": pending["nonce"]},
        ).validate(decoded.claims)
        claims = decoded.claims
    except (
        SsoProviderUnreachable,
        crypto.DecryptionFailed,
        outbound_http.OutboundHostNotFound,
        outbound_http.OutboundTargetRefused,
    ) as error:
        raise SsoSignInFailed() from error
    except (JoseError, OAuthError, requests.RequestException, ValueError, KeyError) as error:
        raise SsoSignInFailed() from error
    email = str(claims.get("email") or "").strip().lower()
    if not email or claims.get("email_verified") is not True:
        raise SsoSignInFailed("The provider did not give a verified email address.")
    return email


NO_SEAT = "Your address has no seat here: ask an admin to invite you."


@transaction.atomic
def seat_for_sso(*, provider: SsoProvider, email: str) -> Membership:
    """The seat the verified address signs in to: the member's own, or a new login with an
    agent seat (just in time) when the address's domain is one the tenant allows and the
    address has no login yet. A deactivated seat stays deactivated. Raises SsoSignInFailed.

    The provider is the tenant admin's choice and may vouch for any address, so it never
    joins an existing login to this tenant: a login made elsewhere (with a password, or by
    another tenant's provider) gets a seat here only through an invitation, which its owner
    accepts."""
    user = account_selectors.users_with_email(email).first()
    if user is not None and not user.is_active:
        raise SsoSignInFailed()
    tenant = provider.tenant
    if user is not None:
        seat = tenancy_selectors.find_membership(tenant_id=tenant.id, user_id=user.pk)
        if seat is not None:
            return seat
        if Membership.objects.filter(tenant=tenant, user=user).exists():
            raise SsoSignInFailed("Your seat here is deactivated: ask an admin.")
        raise SsoSignInFailed(NO_SEAT)
    domain = email.rsplit("@", 1)[-1]
    if domain not in provider.allowed_domains:
        raise SsoSignInFailed(NO_SEAT)
    user = account_services.get_or_create_user(email=email, name="", password=None)
    return account_services.add_member(tenant=tenant, user=user, role=MembershipRole.AGENT)
