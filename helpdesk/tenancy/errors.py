from helpdesk.core.errors import Conflict, DomainError, NotFound


class NoTenantError(RuntimeError):
    """A tenant-owned table was queried with no tenant context: a bug, never user input."""


class TenantSwitchError(RuntimeError):
    """Code tried to enter another tenant's context inside a tenant context."""


class CrossTenantWrite(RuntimeError):
    """A row of one tenant was saved inside another tenant's context."""


class TenantNotFound(NotFound):
    code = "tenant_not_found"
    message = "No such tenant."


class TenantSlugTaken(Conflict):
    code = "tenant_slug_taken"
    message = "That tenant slug is taken."


class InvalidTenantSlug(DomainError):
    code = "invalid_tenant_slug"
    message = "A slug is 2-40 lowercase letters, digits and hyphens, starting with a letter."


class MemberNotFound(NotFound):
    code = "member_not_found"
    message = "No such member of this tenant."


class InvalidBranding(DomainError):
    code = "invalid_branding"
    message = "The help center's name, colour or logo is not valid."
    public_details = True  # {"field": ...}: which one
