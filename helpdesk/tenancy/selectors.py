"""Reads for tenancy: resolve a host, find members."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterable
from uuid import UUID

from django.conf import settings
from django.core.cache import cache
from django.db.models import QuerySet

from helpdesk.core import batching
from helpdesk.tenancy import permissions
from helpdesk.tenancy.context import require_tenant_id
from helpdesk.tenancy.errors import MemberNotFound, TenantNotFound
from helpdesk.tenancy.models import InboundAddress, Membership, Tenant, TenantDomain
from helpdesk.tenancy.permissions import Capability


def normalize_host(host: str) -> str:
    """Lowercase host without port or trailing dot."""
    host = host.strip().lower()
    if host.startswith("["):  # IPv6 literal
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0].rstrip(".") if ":" in host else host.rstrip(".")


def is_platform_host(host: str) -> bool:
    return normalize_host(host) == settings.HELPDESK_BASE_DOMAIN


def find_tenant_for_host(host: str) -> Tenant | None:
    """The active tenant answering for `host`: `<slug>.<base domain>` or a custom domain.

    Every request asks, so a found tenant is cached for HELPDESK_TENANT_CACHE_SECONDS (an
    unknown host is not: a new tenant answers at once; a deactivated one stops within
    that time)."""
    seconds = int(settings.HELPDESK_TENANT_CACHE_SECONDS)
    key = f"tenant-for-host:{normalize_host(host)}"
    if seconds > 0:
        cached = cache.get(key)
        if isinstance(cached, Tenant):
            return cached
    tenant = _find_tenant_for_host(host)
    if tenant is not None and seconds > 0:
        cache.set(key, tenant, seconds)
    return tenant


def _find_tenant_for_host(host: str) -> Tenant | None:
    host = normalize_host(host)
    suffix = "." + settings.HELPDESK_BASE_DOMAIN
    if host.endswith(suffix):
        slug = host[: -len(suffix)]
        if slug and "." not in slug:
            return Tenant.objects.filter(slug=slug, is_active=True).first()
        return None
    domain = TenantDomain.objects.select_related("tenant").filter(domain=host).first()
    if domain is not None and domain.tenant.is_active:
        return domain.tenant
    return None


def get_tenant(tenant_id: UUID | str) -> Tenant:
    """The tenant by id. Tasks and mail read its name, language and slug for every message,
    so it is cached like a host's tenant (HELPDESK_TENANT_CACHE_SECONDS)."""
    seconds = int(settings.HELPDESK_TENANT_CACHE_SECONDS)
    key = f"tenant:{tenant_id}"
    if seconds > 0:
        cached = batching.remembered(key, lambda: cache.get(key))  # once per inbound batch
        if isinstance(cached, Tenant):
            return cached
    tenant = Tenant.objects.get(id=tenant_id)
    if seconds > 0:
        cache.set(key, tenant, seconds)
    return tenant


def forget_tenant(tenant: Tenant) -> None:
    """Drop the cached copies of the tenant (by id and by each of its hosts), so a change
    of its name, colour or logo shows on the next request."""
    hosts = [f"{tenant.slug}.{settings.HELPDESK_BASE_DOMAIN}"]
    hosts += list(TenantDomain.objects.filter(tenant=tenant).values_list("domain", flat=True))
    cache.delete_many([f"tenant:{tenant.id}", *(f"tenant-for-host:{h}" for h in hosts)])


def get_tenant_by_slug(slug: str) -> Tenant:
    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is None:
        raise TenantNotFound(slug=slug)
    return tenant


def tenant_base_url(tenant: Tenant) -> str:
    """Public base URL of the tenant's help desk, e.g. http://demo.localhost:8000."""
    port = settings.HELPDESK_PUBLIC_PORT
    scheme = settings.HELPDESK_PUBLIC_SCHEME
    default_port = {"http": "80", "https": "443"}.get(scheme)
    suffix = f":{port}" if port and port != default_port else ""
    return f"{scheme}://{tenant.slug}.{settings.HELPDESK_BASE_DOMAIN}{suffix}"


def find_membership(*, tenant_id: UUID, user_id: UUID) -> Membership | None:
    """The user's active seat in the tenant, or None. Safe before a tenant context exists."""
    return (
        Membership.objects.select_related("user")
        .filter(tenant_id=tenant_id, user_id=user_id, is_active=True, user__is_active=True)
        .first()
    )


def list_members(*, roles: list[str] | None = None) -> QuerySet[Membership]:
    """Active members of the current tenant with their users, by name."""
    members = Membership.objects.in_current_tenant().filter(is_active=True).select_related("user")
    if roles:
        members = members.filter(role__in=roles)
    return members.order_by("user__name", "user__email")


def list_agents() -> QuerySet[Membership]:
    """Active members who may take tickets (admins and full agents)."""
    return list_members(roles=permissions.roles_with(Capability.TAKE_TICKETS))


def get_members(member_ids: Iterable[UUID]) -> list[Membership]:
    """Members of the current tenant by id (active or not), with their users."""
    return list(
        Membership.objects.in_current_tenant()
        .filter(id__in=list(member_ids))
        .select_related("user")
    )


def get_member(member_id: UUID | str) -> Membership:
    """A member of the current tenant; another tenant's member is MemberNotFound."""
    member = (
        Membership.objects.filter(tenant_id=require_tenant_id(), id=member_id, is_active=True)
        .select_related("user")
        .first()
    )
    if member is None:
        raise MemberNotFound(member_id=str(member_id))
    return member


INBOUND_ADDRESS_SECONDS = 600
_NO_TENANT = "-"  # cached "no tenant owns this address"


def inbound_address_key(address: str) -> str:
    """The cache key of an address's owner. The address comes from a stranger's mail (any
    length, spaces, control characters), so the key holds its digest, not the address."""
    digest = hashlib.sha256(address.strip().lower().encode("utf-8", "surrogatepass"))
    return f"inbound-address:{digest.hexdigest()}"


def find_inbound_addresses(addresses: Iterable[str]) -> dict[str, InboundAddress]:
    """The InboundAddress rows of these (lowercase) addresses that exist, by address.

    Every inbound mail asks before any tenant is known, so each answer (a miss too) is
    cached; the tenancy services drop an address's entry when they change its row. With
    the cache unreachable (Redis down while mail arrives) the database answers alone: intake
    must still store the mail."""
    wanted = sorted({a for a in addresses if a})
    if not wanted:
        return {}
    keys = {inbound_address_key(a): a for a in wanted}
    try:
        cached: dict[str, object] = cache.get_many(list(keys))
    except Exception:
        cached, keys = {}, {}
    found: dict[str, InboundAddress] = {}
    missing: list[str] = []
    for key, address in keys.items():
        value = cached.get(key)
        if value == _NO_TENANT:
            continue
        if isinstance(value, tuple) and len(value) == 2:
            found[address] = InboundAddress(
                address=address, tenant_id=UUID(str(value[0])), mailbox_id=UUID(str(value[1]))
            )
        else:
            missing.append(address)
    if not keys:
        missing = wanted
    if missing:
        rows = {row.address: row for row in InboundAddress.objects.filter(address__in=missing)}
        found.update(rows)
        if keys:
            entries = {
                inbound_address_key(a): (
                    (str(rows[a].tenant_id), str(rows[a].mailbox_id)) if a in rows else _NO_TENANT
                )
                for a in missing
            }
            with contextlib.suppress(Exception):
                cache.set_many(entries, INBOUND_ADDRESS_SECONDS)
    return found


def mailbox_inbound_address(*, address: str, mailbox_id: UUID) -> InboundAddress | None:
    """The current tenant's row pointing `address` at this mailbox, read from the database.

    For callers that already know the mailbox (an IMAP poll): no cache, so a row created a
    moment ago, or another tenant's stale cached answer, never stands in for it."""
    return (
        InboundAddress.objects.in_current_tenant()
        .filter(address=address.strip().lower(), mailbox_id=mailbox_id)
        .first()
    )


def forget_inbound_address(address: str) -> None:
    """Drop the cached answer for one address (the services do when they change its row)."""
    with contextlib.suppress(Exception):
        cache.delete(inbound_address_key(address))
