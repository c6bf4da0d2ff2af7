from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request


class IsTenantMember(BasePermission):
    """Any active member of the request's tenant (role checks are done by services)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return getattr(request._request, "membership", None) is not None


class IsTenantAdmin(BasePermission):
    """Admins of the request's tenant only (settings endpoints)."""

    message = "Only admins may do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        membership = getattr(request._request, "membership", None)
        return membership is not None and membership.role == "admin"


class IsTenantAdminOrReadOnly(BasePermission):
    """Members read (GET, HEAD, OPTIONS); only admins write (definitions every agent uses)."""

    message = "Only admins may change this."

    def has_permission(self, request: Request, view: Any) -> bool:
        membership = getattr(request._request, "membership", None)
        if membership is None:
            return False
        return request.method in SAFE_METHODS or membership.role == "admin"
