"""Tenancy: a slug is unique for ever; a tenant owns its memberships and addresses; only
admins change how its help center looks (name, colour, logo)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from uuid import UUID

from django.core.files.base import ContentFile
from django.db import transaction

from helpdesk.core.ids import new_id
from helpdesk.tenancy import audit, permissions, selectors
from helpdesk.tenancy.errors import InvalidBranding, InvalidTenantSlug, TenantSlugTaken
from helpdesk.tenancy.models import AuditAction, InboundAddress, Membership, Tenant, TenantDomain
from helpdesk.tenancy.permissions import Capability

if TYPE_CHECKING:
    from django.core.files.uploadedfile import UploadedFile

SLUG_PATTERN = re.compile(r"^[a-z][a-z0-9-]{1,39}$")
RESERVED_SLUGS = frozenset({"www", "api", "admin", "mail", "static", "ops", "app"})


@transaction.atomic
def create_tenant_row(
    *, slug: str, name: str, time_zone: str = "UTC", language: str = "en"
) -> Tenant:
    """A Tenant row only; `helpdesk.ops.services.create_tenant` provisions the rest.

    Raises InvalidTenantSlug, TenantSlugTaken.
    """
    slug = slug.strip().lower()
    if not SLUG_PATTERN.match(slug) or slug in RESERVED_SLUGS or slug.endswith("-"):
        raise InvalidTenantSlug(slug=slug)
    if Tenant.objects.filter(slug=slug).exists():
        raise TenantSlugTaken(slug=slug)
    return Tenant.objects.create(
        slug=slug, name=name.strip() or slug, time_zone=time_zone, language=language
    )


@transaction.atomic
def add_custom_domain(*, tenant: Tenant, domain: str) -> TenantDomain:
    return TenantDomain.objects.create(tenant=tenant, domain=domain.strip().lower().rstrip("."))


@transaction.atomic
def register_inbound_address(*, tenant_id: UUID, address: str, mailbox_id: UUID) -> InboundAddress:
    """Point `address` at a mailbox of the tenant. Raises IntegrityError if another owns it."""
    address = address.strip().lower()
    row, _ = InboundAddress.objects.update_or_create(
        address=address, tenant_id=tenant_id, defaults={"mailbox_id": mailbox_id}
    )
    _forget_inbound_address(address)
    return row


@transaction.atomic
def unregister_inbound_address(*, tenant_id: UUID, address: str) -> None:
    InboundAddress.objects.filter(tenant_id=tenant_id, address=address.strip().lower()).delete()
    _forget_inbound_address(address)


def _forget_inbound_address(address: str) -> None:
    """Drop intake's cached answer for the address, now and after the commit (a mail read
    in between would cache the old row again)."""
    selectors.forget_inbound_address(address)
    transaction.on_commit(lambda: selectors.forget_inbound_address(address))


# --- Help center branding -------------------------------------------------------------------

NAME_LENGTH = 200
COLOUR_PATTERN = re.compile(r"^#[0-9a-f]{6}$")
LOGO_BYTES = 512 * 1024
# What a logo may be, told by its first bytes (the declared type and the name are not
# believed): no SVG, which can carry scripts.
_LOGO_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
)


def _logo_extension(head: bytes) -> str | None:
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return next((ext for magic, ext in _LOGO_MAGIC if head.startswith(magic)), None)


def _changed(tenant: Tenant, fields: list[str], actor: Membership | None) -> Tenant:
    tenant.save(update_fields=[*fields, "updated_at"])
    audit.record_audit_event(
        action=AuditAction.SETTINGS_CHANGED,
        actor=actor,
        target_type="branding",
        target_label=", ".join(fields),
        details={name: str(getattr(tenant, name) or "") for name in fields},
    )
    selectors.forget_tenant(tenant)
    transaction.on_commit(lambda: selectors.forget_tenant(tenant))
    return tenant


@transaction.atomic
def update_branding(
    *,
    tenant: Tenant,
    actor: Membership | None,
    name: str | None = None,
    brand_colour: str | None = None,
) -> Tenant:
    """Set the name the help center, the portal and customer mail show, and the accent
    colour (`#rrggbb`, or "" for the default). Admins only (PermissionDenied). Raises
    InvalidBranding for an empty or too long name or a colour not of that form."""
    permissions.require(actor, Capability.MANAGE_SETTINGS)
    fields = []
    if name is not None:
        name = " ".join(name.split())
        if not name:
            raise InvalidBranding("The name cannot be empty.", field="name")
        if len(name) > NAME_LENGTH:
            raise InvalidBranding(f"The name has at most {NAME_LENGTH} characters.", field="name")
        if name != tenant.name:
            tenant.name = name
            fields.append("name")
    if brand_colour is not None:
        colour = brand_colour.strip().lower()
        if colour and not COLOUR_PATTERN.match(colour):
            raise InvalidBranding(
                "The colour is written #rrggbb (for example #2457c5).", field="brand_colour"
            )
        if colour != tenant.brand_colour:
            tenant.brand_colour = colour
            fields.append("brand_colour")
    # Only what changed is saved and audited (the settings page sends every field).
    return _changed(tenant, fields, actor) if fields else tenant


@transaction.atomic
def set_logo(*, tenant: Tenant, actor: Membership | None, upload: UploadedFile[bytes]) -> Tenant:
    """The help center's logo: PNG, JPEG, GIF or WebP (told by its content, not its name),
    at most LOGO_BYTES. Replaces (and deletes) the previous one. Admins only
    (PermissionDenied); raises InvalidBranding for another type, an empty or a too large
    file."""
    permissions.require(actor, Capability.MANAGE_SETTINGS)
    size = upload.size or 0
    if size == 0:
        raise InvalidBranding("The logo file is empty.", field="logo")
    if size > LOGO_BYTES:
        raise InvalidBranding(f"A logo has at most {LOGO_BYTES // 1024} KB.", field="logo")
    content = upload.read(LOGO_BYTES + 1)
    if len(content) > LOGO_BYTES:
        raise InvalidBranding(f"A logo has at most {LOGO_BYTES // 1024} KB.", field="logo")
    extension = _logo_extension(content[:16])
    if extension is None:
        raise InvalidBranding("A logo is a PNG, JPEG, GIF or WebP image.", field="logo")
    previous = (tenant.logo.name or "") if tenant.logo else ""
    # Ids, not the uploaded name, in the storage path; one folder per tenant.
    tenant.logo.save(f"{tenant.id}/{new_id()}.{extension}", ContentFile(content), save=False)
    _changed(tenant, ["logo"], actor)
    if previous:
        storage = tenant.logo.storage
        transaction.on_commit(lambda: storage.delete(previous))
    return tenant


@transaction.atomic
def remove_logo(*, tenant: Tenant, actor: Membership | None) -> Tenant:
    """The help center shows the name alone again. Admins only (PermissionDenied)."""
    permissions.require(actor, Capability.MANAGE_SETTINGS)
    if not tenant.logo:
        return tenant
    previous, storage = tenant.logo.name or "", tenant.logo.storage
    tenant.logo = ""
    _changed(tenant, ["logo"], actor)
    transaction.on_commit(lambda: storage.delete(previous))
    return tenant


# --- Security -------------------------------------------------------------------------------


@transaction.atomic
def set_two_factor_requirement(
    *, tenant: Tenant, actor: Membership | None, required: bool
) -> Tenant:
    """Require (or stop requiring) a second factor at every member's sign-in; a member
    without one is asked to set it up before their next page. Admins only
    (PermissionDenied). Audited when it changes."""
    permissions.require(actor, Capability.MANAGE_SETTINGS)
    if tenant.require_two_factor == required:
        return tenant
    tenant.require_two_factor = required
    tenant.save(update_fields=["require_two_factor", "updated_at"])
    audit.record_audit_event(
        action=AuditAction.SETTINGS_CHANGED,
        actor=actor,
        target_type="security",
        target_label="require_two_factor",
        details={"require_two_factor": str(required).lower()},
    )
    selectors.forget_tenant(tenant)
    transaction.on_commit(lambda: selectors.forget_tenant(tenant))
    return tenant
