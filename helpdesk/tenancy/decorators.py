"""View guards for tenant pages: thin wrappers over `helpdesk.tenancy.permissions`."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast, overload

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import render

from helpdesk.tenancy import permissions
from helpdesk.tenancy.permissions import Capability

View = Callable[..., HttpResponseBase]
_ViewT = TypeVar("_ViewT", bound=View)


@overload
def member_required(view: _ViewT, /) -> _ViewT: ...
@overload
def member_required(*, may: Capability | None = None) -> Callable[[_ViewT], _ViewT]: ...
def member_required(view: View | None = None, *, may: Capability | None = None) -> Any:
    """Only members of the request's tenant (with `may`: only those with that capability).

    Anonymous visitors go to the login page; members without the capability get a 403
    page that says why (`permissions.DENIED`).
    """

    def decorate(func: _ViewT) -> _ViewT:
        @functools.wraps(func)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if getattr(request, "tenant", None) is None:
                raise Http404
            membership = getattr(request, "membership", None)
            if membership is None:
                return redirect_to_login(request.get_full_path())
            if may is not None and not permissions.can(membership, may):
                # A page in the help desk's own look that says why, not a bare refusal.
                return render(
                    request,
                    "errors/forbidden.html",
                    {"reason": permissions.DENIED[may], "membership": membership},
                    status=403,
                )
            return func(request, *args, **kwargs)

        return cast("_ViewT", wrapper)

    return decorate(view) if view is not None else decorate
