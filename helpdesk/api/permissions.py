"""DRF permission classes: thin wrappers over `helpdesk.tenancy.permissions`."""

from __future__ import annotations

from typing import Any, ClassVar

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from helpdesk.tenancy import permissions
from helpdesk.tenancy.permissions import Capability


class IsTenantMember(BasePermission):
    """Any active member of the request's tenant (role checks are done by services)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return getattr(request._request, "membership", None) is not None


class HasCapability(BasePermission):
    """Members with `capability` only (403 `permission_denied` for the others)."""

    capability: ClassVar[Capability]
    message = "Only admins may do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        membership = getattr(request._request, "membership", None)
        return permissions.can(membership, self.capability)


class IsTenantAdmin(HasCapability):
    """Members who may manage settings (admins): settings endpoints."""

    capability = Capability.MANAGE_SETTINGS


class CanManageTeam(HasCapability):
    """Members who may manage the team (admins): members, invitations, seats."""

    capability = Capability.MANAGE_TEAM


class IsTenantAdminOrReadOnly(BasePermission):
    """Members read (GET, HEAD, OPTIONS); only those who may manage settings write
    (definitions every agent uses)."""

    message = "Only admins may change this."
    capability: ClassVar[Capability] = Capability.MANAGE_SETTINGS

    def has_permission(self, request: Request, view: Any) -> bool:
        membership = getattr(request._request, "membership", None)
        if membership is None:
            return False
        return request.method in SAFE_METHODS or permissions.can(membership, self.capability)


class CanManageTeamOrReadOnly(IsTenantAdminOrReadOnly):
    """Members read; only those who may manage the team write."""

    capability = Capability.MANAGE_TEAM


class CanManageAvailabilityOrReadOnly(IsTenantAdminOrReadOnly):
    """Members read; only those who may manage others' availability write (shifts, leave)."""

    capability = Capability.MANAGE_AVAILABILITY


class CanWriteArticlesOrReadOnly(IsTenantAdminOrReadOnly):
    """Members read; only those who may write articles write (the knowledge base)."""

    message = "Light agents read the knowledge base but do not write it."
    capability = Capability.WRITE_ARTICLES
