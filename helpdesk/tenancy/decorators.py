"""View guards for tenant pages."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse

from helpdesk.tenancy.models import MembershipRole

View = Callable[..., HttpResponse]


def member_required(view: View | None = None, *, admin: bool = False) -> Any:
    """Only members of the request's tenant (admins only with admin=True).

    Anonymous visitors go to the login page; members without the role get 403.
    """

    def decorate(func: View) -> View:
        @functools.wraps(func)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if getattr(request, "tenant", None) is None:
                raise Http404
            membership = getattr(request, "membership", None)
            if membership is None:
                return redirect_to_login(request.get_full_path())
            if admin and membership.role != MembershipRole.ADMIN:
                return HttpResponse("Only admins may open this page.", status=403)
            return func(request, *args, **kwargs)

        return wrapper

    return decorate(view) if view is not None else decorate
